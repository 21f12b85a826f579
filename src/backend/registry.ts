/**
 * Which backends exist and which one new tensors go to. The CPU backend always exists; WebGPU
 * registers itself once a device has been acquired (see backend/webgpu/).
 */
import { ArgumentError } from '../errors.js';
import type { Backend } from './backend.js';
import { CpuBackend } from './cpu/index.js';
import type { CpuKernelInfo } from './cpu/wasm/runtime.js';

export type DeviceName = 'cpu' | 'webgpu';
export type { CpuKernelInfo };

const backends = new Map<DeviceName, Backend>([['cpu', new CpuBackend()]]);
let defaultDevice: DeviceName = 'cpu';

export function registerBackend(b: Backend): void {
  backends.set(b.name, b);
}

export function getBackend(device: DeviceName = defaultDevice): Backend {
  const b = backends.get(device);
  if (!b && device !== 'cpu' && device !== 'webgpu') {
    throw new ArgumentError(`unknown device ${JSON.stringify(device)}; expected 'cpu' or 'webgpu' (or 'auto' where a model is loaded)`);
  }
  if (!b) {
    throw new ArgumentError(
      `device '${device}' is not initialised${device === 'webgpu' ? ' (await initWebGPU() first, or use device: "auto")' : ''}; available: ${[...backends.keys()].join(', ')}`,
    );
  }
  return b;
}

export function hasBackend(device: DeviceName): boolean {
  return backends.has(device);
}

export function setDefaultDevice(device: DeviceName): void {
  getBackend(device);
  defaultDevice = device;
}

let webgpuInit: Promise<Backend> | undefined;

/**
 * Acquires a WebGPU device (Dawn in Node, navigator.gpu in browsers) and registers the backend.
 * Rejects with a clear error when no adapter exists; later calls return the same backend.
 */
export function initWebGPU(): Promise<Backend> {
  webgpuInit ??= import('./webgpu/index.js')
    .then((m) => m.WebGpuBackend.create())
    .then((b) => {
      registerBackend(b);
      return b as Backend;
    })
    .catch((e: unknown) => {
      webgpuInit = undefined;
      throw e;
    });
  return webgpuInit;
}

/**
 * Sets how many threads the CPU kernels use per op, this one included (from the next op on).
 * Default: MAMBA_TS_THREADS, else os.availableParallelism() in Node and
 * navigator.hardwareConcurrency in cross-origin isolated pages (one thread in other pages). Results
 * do not depend on it: each output element is computed in the same order by one thread.
 */
export function setCpuThreads(n: number): void {
  const rt = cpuBackend().memory.runtime;
  if (rt) rt.setThreads(n);
}

function cpuBackend(): CpuBackend {
  return backends.get('cpu') as CpuBackend;
}

/** Which CPU kernels run (WebAssembly or TypeScript), which build, on how many threads. */
export function cpuKernelInfo(): CpuKernelInfo {
  return cpuBackend().kernelInfo();
}

/**
 * Resolves once the CPU's WebAssembly kernels are ready. Needed only on a browser page's main
 * thread, where they compile asynchronously (tensors made before then use the TypeScript kernels);
 * model loading awaits it.
 */
export async function initCpu(): Promise<CpuKernelInfo> {
  await cpuBackend().memory.ready();
  return cpuBackend().kernelInfo();
}
