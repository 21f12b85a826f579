/**
 * The WebAssembly kernels ready to run: the memory (heap.ts), this thread's instance of the
 * kernels, and the worker pool (pool.ts). One runtime serves the CPU backend; it is made on the
 * backend's first allocation, so importing the library compiles nothing and starts no thread.
 */
import { ArgumentError } from '../../../errors.js';
import { envSetting, hardwareThreads, mayCompileSynchronously, sharedMemoryAvailable } from '#platform/threads.js';
import { WasmHeap } from './heap.js';
import { forUnsharedMemory, kernelBinary, type KernelVariant } from './module.js';
import { KernelPool, type KernelExports } from './pool.js';

export interface RuntimeOptions {
  /** A shared memory and worker threads (default: wherever SharedArrayBuffer exists). */
  shared?: boolean;
  /** Threads per job (default MAMBA_TS_THREADS, else the hardware threads). */
  threads?: number;
  /** Plain SIMD even where relaxed SIMD validates (default: relaxed where possible). */
  variant?: KernelVariant;
  /** The memory's first size, and the most it may grow to (pages of 64 KiB); for tests. */
  initialBytes?: number;
  maximumPages?: number;
}

/** What the CPU backend runs on, for users and benchmarks. */
export interface CpuKernelInfo {
  kernels: 'wasm' | 'ts';
  /** The WebAssembly build in use, when kernels is 'wasm'. */
  variant?: KernelVariant;
  threads: number;
  sharedMemory: boolean;
  /** Why the TypeScript kernels run, when they do. */
  reason?: string;
}

/** A positive integer, or an error naming where the value came from. */
export function checkThreadCount(n: number, source: string): number {
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw new ArgumentError(`${source}: expected a whole number of threads from 1 to 1024, got ${n}`);
  return n;
}

/** MAMBA_TS_THREADS, if set. */
export function threadsFromEnv(): number | undefined {
  const v = envSetting('MAMBA_TS_THREADS');
  if (v === undefined || v === '') return undefined;
  return checkThreadCount(Number(v), 'MAMBA_TS_THREADS');
}

let saidOneThread = false;

export class WasmRuntime {
  private constructor(
    readonly heap: WasmHeap,
    readonly pool: KernelPool,
    readonly variant: KernelVariant,
  ) {}

  /** The runtime; or, where the engine lacks WebAssembly SIMD or no memory could be made, the reason. */
  static create(o: RuntimeOptions = {}): WasmRuntime | string {
    const prepared = prepare(o);
    if (typeof prepared === 'string') return prepared;
    if (!mayCompileSynchronously()) return 'this thread may not compile WebAssembly synchronously (use createAsync)';
    const module = new WebAssembly.Module(prepared.bytes);
    const instance = new WebAssembly.Instance(module, { env: { memory: prepared.heap.memory } });
    return WasmRuntime.finish(prepared, module, instance.exports as unknown as KernelExports, o);
  }

  /** The same, compiling off the calling thread (browsers' main threads must). */
  static async createAsync(o: RuntimeOptions = {}): Promise<WasmRuntime | string> {
    const prepared = prepare(o);
    if (typeof prepared === 'string') return prepared;
    const module = await WebAssembly.compile(prepared.bytes);
    const instance = await WebAssembly.instantiate(module, { env: { memory: prepared.heap.memory } });
    return WasmRuntime.finish(prepared, module, instance.exports as unknown as KernelExports, o);
  }

  private static finish(p: Prepared, module: WebAssembly.Module, exports: KernelExports, o: RuntimeOptions): WasmRuntime {
    const pool = new KernelPool(p.heap, module, exports, p.heap.shared);
    const threads = o.threads ?? threadsFromEnv() ?? hardwareThreads();
    if (!p.heap.shared && threads > 1 && !saidOneThread) {
      saidOneThread = true;
      console.info(
        'mamba-ts: CPU kernels run on one thread: threads need SharedArrayBuffer, which browsers give only to cross-origin isolated pages ' +
          '(served with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)',
      );
    }
    pool.setThreads(threads);
    return new WasmRuntime(p.heap, pool, p.variant);
  }

  get threads(): number {
    return this.pool.threads;
  }
  setThreads(n: number): void {
    this.pool.setThreads(checkThreadCount(n, 'setCpuThreads'));
  }
}

interface Prepared {
  heap: WasmHeap;
  bytes: Uint8Array<ArrayBuffer>;
  variant: KernelVariant;
}

function prepare(o: RuntimeOptions): Prepared | string {
  const binary = kernelBinary(o.variant);
  if (!binary) return 'this JavaScript engine has no WebAssembly SIMD';
  const shared = o.shared ?? sharedMemoryAvailable();
  const heap = WasmHeap.create(shared, o.initialBytes, o.maximumPages);
  if (!heap) return 'no WebAssembly memory could be made';
  return { heap, bytes: shared ? binary.bytes : forUnsharedMemory(binary.bytes), variant: binary.variant };
}
