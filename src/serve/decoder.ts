/**
 * The per-step model API the scheduler drives: prefill one prompt alone, regroup the batch at a
 * step boundary (finished rows leave, prefilled ones join), decode one token for every row.
 *
 * Tokens are picked where the logits are (RowPick 'device'): the argmax, or a draw by
 * ops/sample-tokens.ts with the row's own options and its own generator, whose state lives on the
 * device and advances there; only the ids come back. A row with a repetition penalty needs its
 * history, so its logits come back and the scheduler picks on the host (RowPick 'host').
 *
 * Two implementations: Mamba's (`RowBatchDecoder`), one batch whose rows are the sequences'
 * fixed-size states, copied in and out (models/mamba/cache-rows.ts), with the generator states
 * and sampling options as rows beside them; and, for any other CausalLM (Jamba, whose attention KV
 * cache has a length per sequence), `SequentialDecoder`, which keeps a batch-1 cache per sequence
 * and steps them one after the other: requests still interleave token by token, but without a
 * batch's speed-up.
 */
import { ArgumentError } from '../errors.js';
import { argmax } from '../ops/reduce.js';
import { concat, reshape, slice } from '../ops/shape.js';
import { sampleTokens, SampleTokensRows, type SampleTokensRow } from '../ops/sample-tokens.js';
import { noGrad } from '../autograd/tape.js';
import { keep, tidy } from '../tensor/memory.js';
import type { Tensor } from '../tensor/tensor.js';
import type { CausalLM, DecodeCache, DecodeStepper, TokenPicker } from '../generation/causal-lm.js';
import { tensor } from '../ops/create.js';
import type { DeviceName } from '../backend/registry.js';
import { MambaCache } from '../models/mamba/cache.js';
import { gatherCacheRows } from '../models/mamba/cache-rows.js';
import { prefillPrompt } from '../generation/prefill.js';

/** How a row's next token is picked. */
export type RowPick =
  /**
   * Where the logits are: 'greedy' (the argmax) or a draw with these warpers, from a generator
   * that starts in `rngState` (Rng.state() of the request's generator) and then lives on the device.
   */
  | { readonly kind: 'device'; readonly options: SampleTokensRow; readonly rngState: readonly [number, number, number, number] }
  /** On the host: the row's logits come back. */
  | { readonly kind: 'host' };

/** A row's output of a step: its token (picked where the logits are), or its logits (V). */
export type RowOutput = { readonly kind: 'id'; readonly id: number } | { readonly kind: 'logits'; readonly logits: Float32Array };

/** A prompt prefilled alone, waiting to join the batch at the next regroup (or to be disposed). */
export interface PrefilledRow {
  dispose(): void;
}

export interface BatchDecoder {
  /** How this decoder batches, for /health and the docs. */
  readonly mode: 'continuous' | 'sequential';
  /** Rows in the batch now. */
  readonly size: number;
  /** Feeds a prompt alone (batch 1), as a solo generate() would: the row, waiting to join at the next regroup, and the output of its last position. */
  prefill(prompt: readonly number[], pick: RowPick): Promise<{ row: PrefilledRow; out: RowOutput }>;
  /**
   * The batch becomes: rows `keep` of the current batch (in that order), then the prefilled rows
   * `add` (each from this decoder's prefill). Dropped rows and the added ones are disposed.
   */
  regroup(keep: readonly number[], add: readonly PrefilledRow[]): void;
  /** One token per row (tokens[i] for row i): every row's output, in row order. */
  step(tokens: readonly number[]): Promise<RowOutput[]>;
  dispose(): void;
}

/** The generator state of a row picked on the host (never drawn from: its table row is 'greedy'). */
const UNUSED_STATE = [1, 2, 3, 4] as const;

/** A prompt's batch-1 cache, its pick, and its generator state on the device (1, 4). */
class Prefilled implements PrefilledRow {
  constructor(
    readonly cache: DecodeCache,
    readonly pick: RowPick,
    readonly rngState: Tensor,
  ) {}

  dispose(): void {
    this.cache.dispose();
    this.rngState.dispose();
  }
}

function rngStateTensor(pick: RowPick, device: DeviceName): Tensor {
  const words = pick.kind === 'device' ? pick.rngState : UNUSED_STATE;
  return keep(tensor(Int32Array.from(words), [1, 4], { dtype: 'i32', device }));
}

/** The picker of a batch whose rows pick as `picks` say: the argmax when every row is greedy (as generate() picks), else a draw with each row's options. */
function pickerFor(picks: readonly RowPick[], rngState: Tensor, rows: SampleTokensRows | null): { pick: TokenPicker; key?: string } {
  const B = picks.length;
  // The argmax's key lets the model keep its recordings for the next greedy batch (CausalLM.decodeStepper).
  if (!rows) return { pick: (logits) => reshape(argmax(logits), [B, 1]), key: 'argmax' };
  return { pick: (logits) => sampleTokens(logits, rngState, rows) };
}

/** Each row's entry of a per-row options table: host rows take the argmax there (never read). */
function tableRows(picks: readonly RowPick[]): SampleTokensRow[] | null {
  if (picks.every((p) => p.kind === 'host' || p.options === 'greedy')) return null;
  return picks.map((p) => (p.kind === 'device' ? p.options : 'greedy'));
}

/**
 * Reads back what the rows need: ids (B, 1) when some row picks on the device, the logits (B, V)
 * when some row picks on the host. Disposes both.
 */
async function readRows(picks: readonly RowPick[], ids: Tensor | null, logits: Tensor | null): Promise<RowOutput[]> {
  try {
    const idData = ids ? ((await ids.data()) as Int32Array) : null;
    const logitData = logits && picks.some((p) => p.kind === 'host') ? Float32Array.from((await logits.data()) as Float32Array) : null;
    const V = logits?.shape[1] ?? 0;
    return picks.map((p, b) => (p.kind === 'host' ? { kind: 'logits', logits: logitData!.subarray(b * V, (b + 1) * V) } : { kind: 'id', id: idData![b]! }));
  } finally {
    ids?.dispose();
    logits?.dispose();
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

/** A batch-1 row's token picked where its logits are, as generate() picks it: the argmax, or a draw (null: the row picks on the host). */
function pickAlone(logits: Tensor, pick: RowPick, rngState: Tensor): Tensor | null {
  if (pick.kind === 'host') return null;
  const { options } = pick;
  return keep(tidy(() => (options === 'greedy' ? reshape(argmax(logits), [1, 1]) : sampleTokens(logits, rngState, options))));
}

/** A prompt prefilled alone (batch 1) into a new cache, its first token picked as a solo generate() picks it. */
async function prefillAlone(model: CausalLM, prompt: readonly number[], pick: RowPick): Promise<{ row: Prefilled; out: RowOutput }> {
  const cache = model.createCache(1);
  let state: Tensor | null = null;
  try {
    const logits = await prefillPrompt(model, cache, [[...prompt]], undefined);
    let ids: Tensor | null;
    try {
      state = rngStateTensor(pick, logits.device as DeviceName);
      ids = pickAlone(logits, pick, state);
    } catch (e) {
      logits.dispose();
      throw e;
    }
    const [out] = await readRows([pick], ids, logits);
    return { row: new Prefilled(cache, pick, state), out: out! };
  } catch (e) {
    cache.dispose();
    state?.dispose();
    throw e;
  }
}

function checkTokens(what: string, tokens: readonly number[], rows: number): void {
  if (tokens.length !== rows) throw new ArgumentError(`${what}.step: ${tokens.length} tokens for ${rows} rows`);
}

/**
 * Continuous batching for Mamba: one MambaCache holding every active sequence's state as a row,
 * beside it every row's generator state (B, 4) and sampling options (a per-row table), regrouped
 * with it. While no row picks on the host, steps of an unchanged batch go through the model's
 * replayed decode step (WebGPU), made again after each regroup (a new batch is new buffers), with
 * the picker recorded into it: only the B ids come back.
 */
export class RowBatchDecoder implements BatchDecoder {
  readonly mode = 'continuous';
  private batch: MambaCache | null = null;
  private picks: RowPick[] = [];
  /** (B, 4) int32: each row's generator state, advanced in place by each draw. */
  private rngState: Tensor | null = null;
  /** Each row's options, when some row draws (else the batch takes the argmax). */
  private rows: SampleTokensRows | null = null;
  /** The replayed step of the current batch (undefined: not asked yet; null: the model has none, or a row picks on the host). */
  private stepper: DecodeStepper | null | undefined;
  /** Steps replayed by the steppers of batches before the current one. */
  private replayedBefore = 0;

  constructor(private readonly model: CausalLM<MambaCache>) {}

  /** Decode steps that ran as a replay of a recorded step (WebGPU), over this decoder's life. */
  get replayedSteps(): number {
    return this.replayedBefore + (this.stepper?.replayed ?? 0);
  }

  get size(): number {
    return this.batch?.batchSize ?? 0;
  }

  prefill(prompt: readonly number[], pick: RowPick) {
    return prefillAlone(this.model, prompt, pick);
  }

  regroup(keepRows: readonly number[], add: readonly PrefilledRow[]): void {
    const same = add.length === 0 && keepRows.length === this.size && keepRows.every((r, i) => r === i);
    if (same) return;
    const added = add.map((r) => {
      if (!(r instanceof Prefilled) || !(r.cache instanceof MambaCache)) throw new ArgumentError('RowBatchDecoder.regroup: add must hold rows prefilled by this decoder');
      return r;
    });
    const old = { batch: this.batch, rngState: this.rngState, rows: this.rows, stepper: this.stepper };
    this.replayedBefore += this.stepper?.replayed ?? 0;
    this.stepper = undefined;
    this.batch = null;
    this.rngState = null;
    this.rows = null;
    try {
      const picks = [...keepRows.map((i) => this.picks[i]!), ...added.map((r) => r.pick)];
      this.picks = picks;
      if (!picks.length) return;
      this.batch = gatherCacheRows([...keepRows.map((row) => ({ cache: old.batch!, row })), ...added.map((r) => ({ cache: r.cache as MambaCache, row: 0 }))]);
      this.rngState = gatherStateRows(old.rngState, keepRows, added);
      const table = tableRows(picks);
      this.rows = table && new SampleTokensRows(table, this.rngState.device as DeviceName);
    } catch (e) {
      this.dispose();
      throw e;
    } finally {
      // The old batch before its stepper: the stepper then has no states to copy back for it (its
      // rows were gathered above, from buffers a kept recording may own: MambaCache.giveBack).
      old.batch?.dispose();
      old.stepper?.dispose();
      old.rngState?.dispose();
      old.rows?.dispose();
      for (const r of added) r.dispose();
    }
  }

  async step(tokens: readonly number[]): Promise<RowOutput[]> {
    const batch = this.batch;
    checkTokens('RowBatchDecoder', tokens, this.size);
    if (!batch) return [];
    const { pick, key } = pickerFor(this.picks, this.rngState!, this.rows);
    const host = this.picks.some((p) => p.kind === 'host');
    if (this.stepper === undefined) this.stepper = host ? null : (this.model.decodeStepper?.(batch, pick, key) ?? null);
    if (this.stepper) return this.replayedStep(this.stepper, tokens, batch);
    const logits = await noGrad(() => this.model.nextLogits(tokens.map((t) => [t]), batch));
    let ids: Tensor | null = null;
    try {
      if (this.picks.some((p) => p.kind === 'device')) ids = keep(tidy(() => pick(logits)));
    } catch (e) {
      logits.dispose();
      throw e;
    }
    return readRows(this.picks, ids, logits);
  }

  /** One step through the replayed decode step: only the B picked ids come back. */
  private async replayedStep(stepper: DecodeStepper, tokens: readonly number[], batch: MambaCache): Promise<RowOutput[]> {
    const device = batch.states[0]!.ssm.device as DeviceName; // filled: the rows were prefilled
    const ids = tensor(Int32Array.from(tokens), [tokens.length, 1], { dtype: 'i32', device });
    try {
      const next = noGrad(() => stepper.step(ids));
      const data = (await next.data()) as Int32Array; // the stepper's own tensor: not disposed here
      return Array.from(data, (id) => ({ kind: 'id', id }));
    } finally {
      ids.dispose();
    }
  }

  dispose(): void {
    this.replayedBefore += this.stepper?.replayed ?? 0;
    this.batch?.dispose(); // first: see regroup
    this.batch = null;
    this.stepper?.dispose();
    this.stepper = undefined;
    this.rngState?.dispose();
    this.rngState = null;
    this.rows?.dispose();
    this.rows = null;
    this.picks = [];
  }
}

/** The generator states of the regrouped batch: rows `keepRows` of `old` (runs of consecutive rows copied at once), then the added rows'; a new tensor. */
function gatherStateRows(old: Tensor | null, keepRows: readonly number[], added: readonly Prefilled[]): Tensor {
  const parts: Tensor[] = [];
  const owned: Tensor[] = [];
  try {
    for (let i = 0; i < keepRows.length; ) {
      let n = 1;
      while (i + n < keepRows.length && keepRows[i + n] === keepRows[i]! + n) n++;
      const part = slice(old!, 0, keepRows[i]!, n);
      owned.push(part);
      parts.push(part);
      i += n;
    }
    for (const r of added) parts.push(r.rngState);
    return keep(concat(parts, 0)); // a copy, even of one part (as gatherCacheRows relies on)
  } finally {
    for (const t of owned) t.dispose();
  }
}

/** Any CausalLM: a batch-1 cache per sequence (with its generator state), stepped in turn. */
export class SequentialDecoder implements BatchDecoder {
  readonly mode = 'sequential';
  private rows: Prefilled[] = [];

  constructor(private readonly model: CausalLM) {}

  get size(): number {
    return this.rows.length;
  }

  prefill(prompt: readonly number[], pick: RowPick) {
    return prefillAlone(this.model, prompt, pick);
  }

  regroup(keepRows: readonly number[], add: readonly PrefilledRow[]): void {
    const added = add.map((r) => {
      if (!(r instanceof Prefilled)) throw new ArgumentError('SequentialDecoder.regroup: add must hold rows prefilled by this decoder');
      return r;
    });
    const kept = new Set(keepRows);
    this.rows.forEach((r, i) => kept.has(i) || r.dispose());
    this.rows = [...keepRows.map((i) => this.rows[i]!), ...added];
  }

  async step(tokens: readonly number[]): Promise<RowOutput[]> {
    checkTokens('SequentialDecoder', tokens, this.size);
    const outs: RowOutput[] = [];
    for (const [i, row] of this.rows.entries()) {
      const logits = await noGrad(() => this.model.nextLogits([[tokens[i]!]], row.cache));
      let ids: Tensor | null;
      try {
        ids = pickAlone(logits, row.pick, row.rngState);
      } catch (e) {
        logits.dispose();
        throw e;
      }
      outs.push(...(await readRows([row.pick], ids, logits)));
    }
    return outs;
  }

  dispose(): void {
    for (const r of this.rows) r.dispose();
    this.rows = [];
  }
}

/** The decoder for a model: continuous batching where its caches allow it (Mamba), else sequential. */
export function decoderFor(model: CausalLM): BatchDecoder {
  return rowBatchable(model) ? new RowBatchDecoder(model as CausalLM<MambaCache>) : new SequentialDecoder(model);
}
