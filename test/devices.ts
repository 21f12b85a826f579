/** The backends present in this process, for tests parametrised over devices. */
import type { DeviceName } from '../src/backend/registry.js';

/** CPU always; WebGPU joins once its backend exists and an adapter can be had. */
export async function availableDevices(): Promise<DeviceName[]> {
  return ['cpu'];
}
