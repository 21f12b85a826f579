/**
 * Browsers: what the CPU kernels need from the host — Web Workers (made from a Blob, so that no
 * file has to be served or bundled), navigator.hardwareConcurrency, and whether the calling thread
 * may block (a page's main thread may not: the dispatcher spins instead). Threads need a
 * SharedArrayBuffer, which browsers give only to cross-origin isolated pages (served with
 * Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp).
 * Twin of ../node/threads.ts (see ../README.md); reached as `#platform/threads.js`.
 */
import type * as NodeTwin from '../node/threads.js';

const WORKER_SOURCE = `
onmessage = (e) => {
  const { module, memory, tid, scratch } = e.data;
  WebAssembly.instantiate(module, { env: { memory } }).then((instance) => instance.exports.workerLoop(tid, scratch));
};
`;

interface BrowserGlobals {
  navigator?: { hardwareConcurrency?: number };
  crossOriginIsolated?: boolean;
  WorkerGlobalScope?: unknown;
}
const host = globalThis as BrowserGlobals;

export function hardwareThreads(): number {
  return Math.max(1, host.navigator?.hardwareConcurrency ?? 1);
}

/** Whether a shared WebAssembly.Memory can be made: only in cross-origin isolated pages. */
export function sharedMemoryAvailable(): boolean {
  return typeof SharedArrayBuffer === 'function' && host.crossOriginIsolated === true;
}

/** Whether the calling thread may sleep in Atomics.wait: in a worker yes, on a page's main thread no. */
export function threadMayWait(): boolean {
  return host.WorkerGlobalScope !== undefined;
}

/** Chromium refuses to compile modules over 4 KB synchronously on a page's main thread. */
export function mayCompileSynchronously(): boolean {
  return host.WorkerGlobalScope !== undefined;
}

/** Browsers have no environment variables. */
export function envSetting(_name: string): string | undefined {
  return undefined;
}

export function startKernelWorker(
  module: WebAssembly.Module,
  memory: WebAssembly.Memory,
  tid: number,
  scratch: number,
  onError: (message: string) => void,
): void {
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
  const worker = new Worker(url);
  worker.onerror = (e) => onError(e.message);
  worker.postMessage({ module, memory, tid, scratch });
}

// The compiler keeps the twins alike: this module must offer the Node twin's exports, with its types.
type SameAsNodeTwin<T extends typeof NodeTwin> = T;
type _Checked = SameAsNodeTwin<typeof import('./threads.js')>;
