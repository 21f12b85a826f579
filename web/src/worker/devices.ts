/** Which device a job runs on: the page's request, with the CPU as the fallback when WebGPU fails. */
import type { DeviceRequest, DeviceUsed } from '../protocol.js';
import { chooseDevice, describeDecision } from './lib.js';

export async function pickDevice(request: DeviceRequest): Promise<DeviceUsed> {
  try {
    const d = await chooseDevice(request);
    return { device: d.device, description: describeDecision(d).replace(/^device: /, '') };
  } catch (e) {
    // An explicit 'webgpu' that cannot be had (no navigator.gpu, no adapter): say why, run on the CPU.
    return { device: 'cpu', description: `cpu — WebGPU unavailable (${(e as Error).message})` };
  }
}
