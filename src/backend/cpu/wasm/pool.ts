/**
 * Runs kernel jobs on this thread and a pool of worker threads over the shared memory. The Backend
 * API is synchronous, so the calling thread posts a job in the control block (layout.ts; the
 * protocol is in assembly/control.ts), takes tiles itself, then waits until every tile is done:
 * no message passing per job, and a worker that is slow to start only means fewer helpers.
 */
import {
  CLAIMS_CLOSED, CONTROL, MAX_ARGS, SCRATCH_BYTES, W_ACTIVE_THREADS, W_ARGS, W_GENERATION, W_KERNEL, W_NEXT_TILE, W_SLEEPERS,
  W_STARTED, W_TILE_COUNT, W_TILES_DONE,
} from './layout.js';
import type { WasmHeap } from './heap.js';
import { startKernelWorker, threadMayWait } from '#platform/threads.js';

/** The module's exports (assembly/index.ts). */
export interface KernelExports {
  runTiles(scratch: number): void;
  workerLoop(tid: number, scratch: number): void;
}

/** Loads of the done counter the dispatcher makes before it sleeps (where it may sleep). */
const SPINS_BEFORE_WAIT = 2000;

export class KernelPool {
  private view: Int32Array<ArrayBufferLike> = new Int32Array(0);
  private viewGeneration = -1;
  private readonly scratch: number[] = [];
  private active = 1;
  private warned = false;

  /**
   * @param module the compiled kernels, for the workers to instantiate
   * @param exports this thread's instance
   * @param canSpawn whether worker threads exist here (a shared memory)
   */
  constructor(
    private readonly heap: WasmHeap,
    private readonly module: WebAssembly.Module,
    private readonly exports: KernelExports,
    readonly canSpawn: boolean,
  ) {
    this.scratch.push(this.allocScratch());
    Atomics.store(this.control, W_ACTIVE_THREADS, 1);
  }

  /** The control block's words (re-viewed after a grow, which detaches an unshared memory's buffer). */
  private get control(): Int32Array {
    if (this.viewGeneration !== this.heap.generation) {
      this.view = new Int32Array(this.heap.buffer, CONTROL, W_ARGS + MAX_ARGS);
      this.viewGeneration = this.heap.generation;
    }
    return this.view;
  }

  /** Threads that take part in each job (this one included). */
  get threads(): number {
    return this.active;
  }

  /** Workers that have started serving jobs. */
  get startedWorkers(): number {
    return Atomics.load(this.control, W_STARTED);
  }

  /** Uses `n` threads from the next job on (workers are started as needed and never stopped). */
  setThreads(n: number): void {
    const want = this.canSpawn ? n : 1;
    while (this.scratch.length < want) {
      const tid = this.scratch.length;
      const scratch = this.allocScratch();
      this.scratch.push(scratch);
      startKernelWorker(this.module, this.heap.memory, tid, scratch, (message) => this.workerFailed(message));
    }
    this.active = want;
    Atomics.store(this.control, W_ACTIVE_THREADS, want);
  }

  /**
   * Runs `tiles` tiles of `kernel` with `args` (32-bit words; numbers ≥ 2³¹ such as high addresses
   * keep their bits) and returns when all are done.
   */
  run(kernel: number, args: readonly number[], tiles: number): void {
    if (tiles <= 0) return;
    const c = this.control;
    Atomics.store(c, W_NEXT_TILE, CLAIMS_CLOSED);
    for (let i = 0; i < args.length; i++) c[W_ARGS + i] = args[i]!;
    c[W_KERNEL] = kernel;
    Atomics.store(c, W_TILES_DONE, 0);
    Atomics.store(c, W_TILE_COUNT, tiles);
    Atomics.store(c, W_NEXT_TILE, 0);
    // One tile, or one thread: no one to wake (a worker still finishing its last claim may take it).
    if (this.active > 1 && tiles > 1) {
      Atomics.add(c, W_GENERATION, 1);
      if (Atomics.load(c, W_SLEEPERS) > 0) Atomics.notify(c, W_GENERATION);
    }
    this.exports.runTiles(this.scratch[0]!);
    this.waitDone(tiles);
  }

  private waitDone(tiles: number): void {
    const c = this.control;
    let spins = 0;
    let done = Atomics.load(c, W_TILES_DONE);
    while (done < tiles) {
      if (++spins > SPINS_BEFORE_WAIT && threadMayWait()) Atomics.wait(c, W_TILES_DONE, done, 1);
      done = Atomics.load(c, W_TILES_DONE);
    }
  }

  private allocScratch(): number {
    const p = this.heap.alloc(SCRATCH_BYTES, false);
    if (p === null) throw new Error('CPU kernels: no memory left for a thread\'s scratch space');
    return p;
  }

  private workerFailed(message: string): void {
    if (this.warned) return;
    this.warned = true;
    console.warn(`mamba-ts: a CPU kernel worker thread failed (${message}); its share of the work falls to the other threads`);
  }
}
