/**
 * A CausalLM wrapper for benchmarks (bench/throughput.ts, bench/record-cost.ts): it times the
 * prompt's pass and the host time inside the decode stepper's steps, split into replayed steps and
 * the rest (the recordings), and keeps the cache so that its bytes can be read.
 */
import type { Backend } from '../src/backend/backend.js';
import type { CausalLM, DecodeCache, DecodeStepper, TokenPicker } from '../src/generation/causal-lm.js';
import type { Tensor } from '../src/tensor/tensor.js';

/**
 * The model as generate() sees it, timing the prompt's pass (the nextLogits calls until the cache
 * holds the prompt: generate() feeds a long batch of prompts in chunks) and keeping the cache so
 * that its bytes can be read. Waiting for the device after the prompt adds
 * one pause at the boundary of the two phases, nothing inside either.
 */
export class TimedLM implements CausalLM<DecodeCache> {
  readonly vocabSize: number;
  readonly eosTokenId = null;
  readonly padTokenId: number | null;
  readonly supportsAttentionMask: boolean;
  cache: DecodeCache | null = null;
  prefillEnd = 0;
  cacheBytesHeld = 0;
  /** The decode stepper generate() used, if any: its replay count goes in the line. */
  stepper: DecodeStepper | null = null;
  /** Host time inside the stepper's step() calls: replayed steps, and the rest (recordings). */
  replayHostMs = 0;
  otherStepHostMs = 0;
  /** Host time of each step that was not replayed (a recording, or a plain step), in order. */
  readonly otherStepsMs: number[] = [];
  /** When generate() asked for the stepper (after the prompt and the first pick). */
  stepperAt = 0;

  constructor(
    private readonly inner: CausalLM<DecodeCache>,
    private readonly promptLength: number,
    private readonly backend: Backend,
  ) {
    this.vocabSize = inner.vocabSize;
    this.padTokenId = inner.padTokenId;
    this.supportsAttentionMask = inner.supportsAttentionMask ?? false;
  }

  createCache(batchSize: number): DecodeCache {
    this.cache = this.inner.createCache(batchSize);
    return this.cache;
  }

  /** Waits until the device has done everything recorded so far (logits: a tensor it computed). */
  private async settle(logits: Tensor): Promise<void> {
    if (this.backend.sync) await this.backend.sync();
    else await logits.data();
  }

  async nextLogits(ids: number[][] | Tensor, cache: DecodeCache, attentionMask?: number[][]): Promise<Tensor> {
    const logits = await this.inner.nextLogits(ids, cache, attentionMask);
    if (this.prefillEnd === 0 && cache.seqlenOffset >= this.promptLength) {
      await this.settle(logits);
      this.prefillEnd = performance.now();
    }
    return logits;
  }

  decodeStepper(cache: DecodeCache, pick: TokenPicker, pickKey?: string): DecodeStepper | null {
    this.stepperAt = performance.now();
    const inner = this.inner.decodeStepper?.(cache, pick, pickKey) ?? null;
    this.stepper = inner;
    if (!inner) return null;
    const timed = this;
    return {
      step(ids: Tensor): Tensor {
        const before = inner.replayed;
        const t = performance.now();
        const out = inner.step(ids);
        const ms = performance.now() - t;
        if (inner.replayed > before) timed.replayHostMs += ms;
        else {
          timed.otherStepHostMs += ms;
          timed.otherStepsMs.push(ms);
        }
        return out;
      },
      get replayed() {
        return inner.replayed;
      },
      dispose: () => inner.dispose(),
    };
  }
}
