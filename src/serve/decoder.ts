/**
 * The per-step model API the scheduler drives: prefill one prompt alone, regroup the batch at a
 * step boundary (finished rows leave, prefilled ones join), decode one token for every row.
 *
 * Two implementations: Mamba's (`RowBatchDecoder`), one batch whose rows are the sequences'
 * fixed-size states, copied in and out (models/mamba/cache-rows.ts); and, for any other CausalLM
 * (Jamba, whose attention KV cache has a length per sequence), `SequentialDecoder`, which keeps a
 * batch-1 cache per sequence and steps them one after the other: requests still interleave token
 * by token, but without a batch's speed-up.
 */
import { argmax } from '../ops/reduce.js';
import { reshape } from '../ops/shape.js';
import { noGrad } from '../autograd/tape.js';
import { tidy } from '../tensor/memory.js';
import type { Tensor } from '../tensor/tensor.js';
import type { CausalLM, DecodeCache, DecodeStepper } from '../generation/causal-lm.js';
import { tensor } from '../ops/create.js';
import type { DeviceName } from '../backend/registry.js';
import { MambaCache } from '../models/mamba/cache.js';
import { gatherCacheRows } from '../models/mamba/cache-rows.js';

/** What a step gives back: every row's logits (rows × V, row-major), or only their argmax. */
export type StepOutput = { kind: 'logits'; logits: Float32Array } | { kind: 'argmax'; ids: Int32Array };

export interface BatchDecoder {
  /** How this decoder batches, for /health and the docs. */
  readonly mode: 'continuous' | 'sequential';
  /** Rows in the batch now. */
  readonly size: number;
  /** Feeds a prompt alone (batch 1): its cache, waiting to join at the next regroup, and the logits of its last position. */
  prefill(prompt: readonly number[], output: 'logits' | 'argmax'): Promise<{ cache: DecodeCache; out: StepOutput }>;
  /**
   * The batch becomes: rows `keep` of the current batch (in that order), then the prefilled caches
   * `add`. Dropped rows and the added caches are disposed.
   */
  regroup(keep: readonly number[], add: readonly DecodeCache[]): void;
  /** One token per row (tokens[i] for row i); the next logits of every row, or only their argmax. */
  step(tokens: readonly number[], output: 'logits' | 'argmax'): Promise<StepOutput>;
  dispose(): void;
}

/** Reads (B, V) logits back as asked: all of them, or only each row's argmax (computed where they are). */
async function readOut(logits: Tensor, output: 'logits' | 'argmax'): Promise<StepOutput> {
  try {
    if (output === 'logits') return { kind: 'logits', logits: Float32Array.from((await logits.data()) as Float32Array) };
    const ids = tidy(() => reshape(argmax(logits), [logits.shape[0]!]));
    try {
      return { kind: 'argmax', ids: Int32Array.from((await ids.data()) as ArrayLike<number>) };
    } finally {
      ids.dispose();
    }
  } finally {
    logits.dispose();
  }
}

/** True when continuous batching by row copies applies: the model's caches are Mamba's. */
export function rowBatchable(model: CausalLM): boolean {
  const probe = model.createCache(1);
  try {
    return probe instanceof MambaCache;
  } finally {
    probe.dispose();
  }
}

/** A prompt prefilled alone (batch 1) into a new cache, as a solo generate() would. */
async function prefillAlone(model: CausalLM, prompt: readonly number[], output: 'logits' | 'argmax') {
  const cache = model.createCache(1);
  try {
    const logits = await noGrad(() => model.nextLogits([[...prompt]], cache));
    return { cache, out: await readOut(logits, output) };
  } catch (e) {
    cache.dispose();
    throw e;
  }
}

/**
 * Continuous batching for Mamba: one MambaCache holding every active sequence's state as a row.
 * Greedy steps of an unchanged batch go through the model's replayed decode step (WebGPU), made
 * again after each regroup (a new batch is new buffers).
 */
export class RowBatchDecoder implements BatchDecoder {
  readonly mode = 'continuous';
  private batch: MambaCache | null = null;
  /** The replayed step of the current batch (undefined: not asked yet; null: the model has none). */
  private stepper: DecodeStepper | null | undefined;

  constructor(private readonly model: CausalLM<MambaCache>) {}

  get size(): number {
    return this.batch?.batchSize ?? 0;
  }

  prefill(prompt: readonly number[], output: 'logits' | 'argmax') {
    return prefillAlone(this.model, prompt, output);
  }

  regroup(keep: readonly number[], add: readonly DecodeCache[]): void {
    const old = this.batch;
    const same = add.length === 0 && keep.length === this.size && keep.every((r, i) => r === i);
    if (same) return;
    this.stepper?.dispose();
    this.stepper = undefined;
    try {
      const rows = [...keep.map((row) => ({ cache: old!, row })), ...add.map((c) => ({ cache: c as MambaCache, row: 0 }))];
      this.batch = rows.length ? gatherCacheRows(rows) : null;
    } finally {
      old?.dispose();
      for (const c of add) c.dispose();
    }
  }

  async step(tokens: readonly number[], output: 'logits' | 'argmax'): Promise<StepOutput> {
    const batch = this.batch;
    if (!batch || tokens.length !== batch.batchSize) throw new Error(`RowBatchDecoder.step: ${tokens.length} tokens for ${this.size} rows`);
    if (output === 'argmax') {
      const B = batch.batchSize;
      if (this.stepper === undefined) this.stepper = this.model.decodeStepper?.(batch, (logits) => reshape(argmax(logits), [B, 1])) ?? null;
      if (this.stepper) return this.replayedStep(this.stepper, tokens, batch);
    } else if (this.stepper) {
      // A usual step moves the cache's states to other buffers than the recorded step reads.
      this.stepper.dispose();
      this.stepper = undefined;
    }
    const logits = await noGrad(() => this.model.nextLogits(tokens.map((t) => [t]), batch));
    return readOut(logits, output);
  }

  /** One greedy step through the replayed decode step: only the B picked ids come back. */
  private async replayedStep(stepper: DecodeStepper, tokens: readonly number[], batch: MambaCache): Promise<StepOutput> {
    const device = batch.states[0]!.ssm.device as DeviceName; // filled: the rows were prefilled
    const ids = tensor(Int32Array.from(tokens), [tokens.length, 1], { dtype: 'i32', device });
    try {
      const next = noGrad(() => stepper.step(ids));
      return { kind: 'argmax', ids: Int32Array.from((await next.data()) as ArrayLike<number>) };
    } finally {
      ids.dispose();
    }
  }

  dispose(): void {
    this.stepper?.dispose();
    this.stepper = undefined;
    this.batch?.dispose();
    this.batch = null;
  }
}

/** Any CausalLM: a batch-1 cache per sequence, stepped in turn. */
export class SequentialDecoder implements BatchDecoder {
  readonly mode = 'sequential';
  private caches: DecodeCache[] = [];

  constructor(private readonly model: CausalLM) {}

  get size(): number {
    return this.caches.length;
  }

  prefill(prompt: readonly number[], output: 'logits' | 'argmax') {
    return prefillAlone(this.model, prompt, output);
  }

  regroup(keep: readonly number[], add: readonly DecodeCache[]): void {
    const kept = new Set(keep);
    this.caches.forEach((c, i) => kept.has(i) || c.dispose());
    this.caches = [...keep.map((i) => this.caches[i]!), ...add];
  }

  async step(tokens: readonly number[], output: 'logits' | 'argmax'): Promise<StepOutput> {
    if (tokens.length !== this.caches.length) throw new Error(`SequentialDecoder.step: ${tokens.length} tokens for ${this.size} rows`);
    const outs: StepOutput[] = [];
    for (const [i, cache] of this.caches.entries()) {
      const logits = await noGrad(() => this.model.nextLogits([[tokens[i]!]], cache));
      outs.push(await readOut(logits, output));
    }
    if (output === 'argmax') return { kind: 'argmax', ids: Int32Array.from(outs.flatMap((o) => (o.kind === 'argmax' ? [...o.ids] : []))) };
    const V = this.model.vocabSize;
    const logits = new Float32Array(outs.length * V);
    outs.forEach((o, i) => o.kind === 'logits' && logits.set(o.logits, i * V));
    return { kind: 'logits', logits };
  }

  dispose(): void {
    for (const c of this.caches) c.dispose();
    this.caches = [];
  }
}

/** The decoder for a model: continuous batching where its caches allow it (Mamba), else sequential. */
export function decoderFor(model: CausalLM): BatchDecoder {
  return rowBatchable(model) ? new RowBatchDecoder(model as CausalLM<MambaCache>) : new SequentialDecoder(model);
}
