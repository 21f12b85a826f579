/**
 * Forwards that read values back mid-way (an MoE layer reads its top-k choices to size each
 * expert's block) are async, but tidy() and noGrad() are synchronous. `Segments` runs each
 * synchronous stretch of such a forward in its own tidy, under the grad mode in force when the
 * forward began — so that `await noGrad(() => model.forward(...))` does not record the stretches
 * after the first read-back — and holds the tensors the stretches return until they are dropped,
 * handed to the caller (finish) or, on failure, all disposed (abort).
 */
import { isRecording, noGrad } from '../autograd/tape.js';
import { tensorsIn, tidy } from '../tensor/memory.js';
import type { Tensor } from '../tensor/tensor.js';

export class Segments {
  private readonly recording = isRecording();
  private readonly held = new Set<Tensor>();

  /** Runs `fn` (synchronous) in a tidy under the forward's grad mode; holds what it returns. */
  run<R>(fn: () => R): R {
    const r = this.recording ? tidy(fn) : noGrad(() => tidy(fn));
    for (const t of tensorsIn(r)) this.held.add(t);
    return r;
  }

  /** Disposes held tensors no longer needed (others are left alone). */
  drop(...ts: (Tensor | null | undefined)[]): void {
    for (const t of ts) if (t && this.held.delete(t)) t.dispose();
  }

  /** Gives up ownership of tensors someone else now owns (e.g. a decode cache). */
  release(x: unknown): void {
    for (const t of tensorsIn(x)) this.held.delete(t);
  }

  /** Hands `result` to the caller and disposes everything else still held. */
  finish<R>(result: R): R {
    const out = tensorsIn(result);
    for (const t of this.held) if (!out.has(t)) t.dispose();
    this.held.clear();
    return result;
  }

  /** After a failure: disposes everything held. */
  abort(): void {
    for (const t of this.held) t.dispose();
    this.held.clear();
  }
}
