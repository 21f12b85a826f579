/**
 * The page's side of the compute worker: jobs in, events and one result out. Stopping a job ends
 * the worker (a running model cannot be interrupted from outside) and starts a fresh one; loaded
 * models are then loaded again on the next job.
 */
import type { DeviceUsed, Job, JobResult, WorkerEvent } from './protocol.js';

export interface JobHandlers {
  onDevice?(used: DeviceUsed): void;
  onStatus?(text: string): void;
  onText?(text: string, tokens: number, tokensPerSecond: number): void;
  onLoss?(step: number, loss: number): void;
}

interface Pending {
  handlers: JobHandlers;
  resolve(r: JobResult): void;
  reject(e: Error): void;
}

export class StoppedError extends Error {
  override name = 'StoppedError';
}

export class ComputeClient {
  private worker!: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly url: string) {
    this.start();
  }

  private start(): void {
    this.worker = new Worker(this.url, { type: 'module' });
    this.worker.onmessage = (m: MessageEvent<WorkerEvent>) => this.receive(m.data);
    this.worker.onerror = (e) => {
      // A worker that fails to load or throws outside a job: every waiting job fails with the reason.
      for (const p of this.pending.values()) p.reject(new Error(`compute worker: ${e.message || 'failed to start'}`));
      this.pending.clear();
    };
  }

  private receive(e: WorkerEvent): void {
    const p = this.pending.get(e.id);
    if (!p) return;
    switch (e.type) {
      case 'device':
        p.handlers.onDevice?.(e.used);
        break;
      case 'status':
        p.handlers.onStatus?.(e.text);
        break;
      case 'text':
        p.handlers.onText?.(e.text, e.tokens, e.tokensPerSecond);
        break;
      case 'loss':
        p.handlers.onLoss?.(e.step, e.loss);
        break;
      case 'done':
        this.pending.delete(e.id);
        p.resolve(e.result);
        break;
      case 'error':
        this.pending.delete(e.id);
        p.reject(new Error(e.message));
        break;
    }
  }

  run<R extends JobResult>(job: Job, handlers: JobHandlers = {}): Promise<R> {
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      this.pending.set(id, { handlers, resolve: resolve as (r: JobResult) => void, reject });
      this.worker.postMessage({ id, job });
    });
  }

  /** Ends every running and queued job (they reject with StoppedError) and starts a fresh worker. */
  stop(): void {
    this.worker.terminate();
    for (const p of this.pending.values()) p.reject(new StoppedError('stopped'));
    this.pending.clear();
    this.start();
  }
}
