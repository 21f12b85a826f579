/** The backends present in this process, for tests parametrised over devices. */
import { initWebGPU, type DeviceName } from '../src/backend/registry.js';
import { missingExternal } from './external.js';

let cached: Promise<DeviceName[]> | undefined;

/**
 * CPU always; WebGPU when an adapter can be had (on CI: Mesa's lavapipe). When it cannot, the
 * reason is printed, so a skipped backend is never silent, and under CI (CI=true) it is an error
 * (see external.ts). MAMBA_TS_NO_WEBGPU=1 leaves WebGPU out on purpose, CI or not.
 */
export function availableDevices(): Promise<DeviceName[]> {
  cached ??= (async () => {
    if (process.env['MAMBA_TS_NO_WEBGPU']) {
      console.log('# WebGPU tests skipped: MAMBA_TS_NO_WEBGPU is set');
      return ['cpu'];
    }
    try {
      await initWebGPU();
      return ['cpu', 'webgpu'];
    } catch (e) {
      console.log(`# ${missingExternal('WebGPU tests', (e as Error).message)}`);
      return ['cpu'];
    }
  })();
  return cached;
}
