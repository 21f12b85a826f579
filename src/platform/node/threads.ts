/**
 * Node.js: what the CPU kernels need from the host — worker threads (worker_threads), the
 * number of hardware threads (os.availableParallelism), the environment settings, and whether the
 * calling thread may block (it may: Atomics.wait works on Node's main thread). Twin of
 * ../browser/threads.ts (see ../README.md); reached as `#platform/threads.js` from
 * src/backend/cpu/wasm/.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/**
 * What a kernel worker runs: instantiate the kernels over the shared memory, then serve jobs
 * forever. A dynamic import, valid as a script and as a module: a worker inherits the process's
 * Node options, and under `node --input-type=module -e …` (the README's one-line commands) its
 * source is read as a module, where `require` does not exist.
 */
const WORKER_SOURCE = `
import('node:worker_threads').then(({ workerData }) => {
  const { module, memory, tid, scratch } = workerData;
  new WebAssembly.Instance(module, { env: { memory } }).exports.workerLoop(tid, scratch);
});
`;

/** Hardware threads this process may use. */
export function hardwareThreads(): number {
  return availableParallelism();
}

/** Whether a shared WebAssembly.Memory can be made (always, in Node). */
export function sharedMemoryAvailable(): boolean {
  return typeof SharedArrayBuffer === 'function';
}

/** Whether the calling thread may sleep in Atomics.wait (Node: yes, the main thread too). */
export function threadMayWait(): boolean {
  return true;
}

/** Whether a WebAssembly module of any size may be compiled synchronously here (Node: yes). */
export function mayCompileSynchronously(): boolean {
  return true;
}

/** A setting from the environment (MAMBA_TS_THREADS, MAMBA_TS_CPU_KERNELS), if set. */
export function envSetting(name: string): string | undefined {
  return process.env[name];
}

/**
 * Starts a worker thread that instantiates `module` over `memory` and calls its workerLoop(tid,
 * scratch), which never returns. The worker does not keep the process alive. `onError` hears of a
 * worker that failed (the jobs still finish: the dispatching thread claims every tile left).
 */
export function startKernelWorker(
  module: WebAssembly.Module,
  memory: WebAssembly.Memory,
  tid: number,
  scratch: number,
  onError: (message: string) => void,
): void {
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, tid, scratch } });
  worker.on('error', (e: Error) => onError(e.message));
  worker.unref();
}
