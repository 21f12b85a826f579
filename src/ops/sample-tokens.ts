/**
 * Sampling on the device: the next token of every row of logits, drawn where the logits are, so
 * that sampled decoding needs no logits read back and can be recorded and replayed like greedy
 * decoding. It is the twin of generation/sampler.ts's pickNextToken with doSample (without the
 * repetition penalty, which needs each row's history): HF's warpers in HF's order (temperature,
 * top-k, top-p, min-p), then a draw with the row's own xoshiro128** generator exactly as
 * sampleFromLogits draws (u = next() · Σ exp(v − max), the first index in index order where the
 * running sum passes u).
 *
 * Unusually for an op, `rngState` is changed IN PLACE: each row's generator state advances by one
 * draw. That is what lets one recorded launch be replayed step after step, each replay drawing the
 * next number of every row's stream. The CPU kernel is the reference; a device accumulates in
 * float32, so a token at a boundary (a cumulative sum within rounding of u or of a cut) may differ
 * from the reference, never otherwise.
 *
 * Each row may have its own warpers (SampleTokensRows), among them 'greedy': that row takes the
 * argmax of its logits and its generator does not advance, as host decoding's argmax draws
 * nothing. So one launch picks the tokens of a batch of requests with different options (a
 * server's), and as the per-row options live in a device buffer, a recorded step replays with
 * whatever they are at each replay.
 *
 * Device limits (the CPU reference has none): a row whose logits are all -Infinity yields token 0
 * on a device (the CPU throws, as there is nothing to draw), and NaN or +Infinity logits are not
 * supported there.
 */
import { ArgumentError, UnsupportedError } from '../errors.js';
import type { SampleTokensPerRow, SampleTokensScalars } from '../backend/backend.js';
import type { DeviceName } from '../backend/registry.js';
import { checkOptionKeys, optionKeys } from '../options.js';
import { keep } from '../tensor/memory.js';
import type { Tensor } from '../tensor/tensor.js';
import { expectDtype, expectRank, expectShape, sameBackend } from './check.js';
import { tensor } from './create.js';
import { writeSlice } from './shape.js';

export interface SampleTokensOptions {
  /** Divides the logits (> 0; default 1 = off). */
  temperature?: number;
  /** Keep the k largest and any tied with the k-th (integer >= 0; default 0 = off). */
  topK?: number;
  /** Keep the smallest set of most likely tokens with mass >= topP, HF's way (in (0, 1]; default 1 = off). */
  topP?: number;
  /** Keep tokens with p >= minP · max p, on probabilities after temperature (in [0, 1]; default 0 = off). */
  minP?: number;
}

const KEYS = optionKeys<SampleTokensOptions>({ temperature: true, topK: true, topP: true, minP: true });

/** The options with their defaults, each checked against its range (ArgumentError naming it). */
export function sampleTokensScalars(o: SampleTokensOptions = {}): SampleTokensScalars {
  checkOptionKeys('sampleTokens', o, KEYS);
  const { temperature = 1, topK = 0, topP = 1, minP = 0 } = o;
  const bad = (name: string, want: string, v: unknown) => new ArgumentError(`sampleTokens: ${name} must be ${want}, got ${String(v)}`);
  if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature <= 0) throw bad('temperature', 'a finite number > 0', temperature);
  if (typeof topK !== 'number' || !Number.isSafeInteger(topK) || topK < 0) throw bad('topK', 'an integer >= 0 (0 = off)', topK);
  if (typeof topP !== 'number' || !Number.isFinite(topP) || topP <= 0 || topP > 1) throw bad('topP', 'in (0, 1] (1 = off)', topP);
  if (typeof minP !== 'number' || !Number.isFinite(minP) || minP < 0 || minP > 1) throw bad('minP', 'in [0, 1] (0 = off)', minP);
  return { temperature, topK, topP, minP };
}

/** One row's options in the per-row form: its warpers, or 'greedy' (the argmax; no draw). */
export type SampleTokensRow = SampleTokensOptions | 'greedy';

/** topK as the device table holds it (float32): exact below 2^24, and no vocabulary is longer. */
const TABLE_TOP_K_MAX = 2 ** 24;

function tableRow(row: SampleTokensScalars | null): number[] {
  if (!row) return [0, 0, 0, 0];
  // 1 − top_p rounded to float32 as torch compares it (and logits-process.ts); 0 when top-p is off.
  return [row.temperature, Math.min(row.topK, TABLE_TOP_K_MAX), Math.fround(1 - row.topP), row.minP];
}

function checkedRow(o: SampleTokensRow, what: string): SampleTokensScalars | null {
  if (o === 'greedy') return null;
  if (typeof o !== 'object' || o === null) throw new ArgumentError(`sampleTokens: ${what} must be an options object or 'greedy', got ${String(o)}`);
  return sampleTokensScalars(o);
}

/**
 * Each row's own sampling options, for sampleTokens: checked once here, kept on the host (the CPU
 * reference reads them exactly) and in a (B, 4) float32 table on the device (the kernel reads it).
 * set() rewrites a row in place, so a recorded step that samples with these options replays with
 * the new ones; nothing else may write the table.
 */
export class SampleTokensRows implements SampleTokensPerRow {
  private readonly host: (SampleTokensScalars | null)[];
  readonly table: Tensor;

  constructor(rows: readonly SampleTokensRow[], device: DeviceName = 'cpu') {
    if (!Array.isArray(rows) || rows.length === 0) throw new ArgumentError('SampleTokensRows: rows must be a non-empty array of options (one per row of logits)');
    this.host = rows.map((o, b) => checkedRow(o, `rows[${b}]`));
    this.table = keep(tensor(Float32Array.from(this.host.flatMap(tableRow)), [rows.length, 4], { device }));
  }

  get rows(): readonly (SampleTokensScalars | null)[] {
    return this.host;
  }

  get length(): number {
    return this.host.length;
  }

  /** Row `b` samples with `o` from the next launch (or replay) on: one small write to the table. */
  set(b: number, o: SampleTokensRow): void {
    if (!Number.isInteger(b) || b < 0 || b >= this.host.length) throw new ArgumentError(`SampleTokensRows.set: row ${b} is outside [0, ${this.host.length})`);
    const row = checkedRow(o, 'options');
    const src = tensor(Float32Array.from(tableRow(row)), [1, 4], { device: this.table.device as DeviceName });
    try {
      writeSlice(this.table, src, 0, b);
    } finally {
      src.dispose();
    }
    this.host[b] = row;
  }

  dispose(): void {
    this.table.dispose();
  }
}

/**
 * logits (B, V) float32, rngState (B, 4) int32 (each row's xoshiro128** state words, not all zero;
 * Rng.state() gives them) → the drawn token ids, int32 (B, 1). Advances rngState in place by one
 * draw per row (see the file comment). The options: the same for every row, or each row's own
 * (SampleTokensRows of B rows, on the logits' device). Never records gradients.
 */
export function sampleTokens(logits: Tensor, rngState: Tensor, o: SampleTokensOptions | SampleTokensRows = {}): Tensor {
  sameBackend('sampleTokens', logits, rngState);
  expectRank('sampleTokens', 'logits', logits, 2);
  expectDtype('sampleTokens', 'logits', logits, 'f32');
  const [B, V] = logits.shape as [number, number];
  if (B < 1 || V < 1) throw new ArgumentError(`sampleTokens: logits must have at least one row and one column, got [${B}, ${V}]`);
  expectShape('sampleTokens', 'rngState', rngState, [B, 4]);
  expectDtype('sampleTokens', 'rngState', rngState, 'i32');
  let warpers: SampleTokensScalars | SampleTokensPerRow;
  if (o instanceof SampleTokensRows) {
    if (o.length !== B) throw new ArgumentError(`sampleTokens: the per-row options have ${o.length} rows for ${B} rows of logits`);
    sameBackend('sampleTokens', logits, o.table);
    if (V > TABLE_TOP_K_MAX) throw new UnsupportedError(`sampleTokens: per-row options support vocabularies up to ${TABLE_TOP_K_MAX} tokens, got ${V}`);
    warpers = o;
  } else {
    warpers = sampleTokensScalars(o);
  }
  const kernel = logits.backend.sampleTokens;
  if (!kernel) throw new UnsupportedError(`sampleTokens: the ${logits.device} backend has no sampling kernel`);
  return kernel.call(logits.backend, logits, rngState, warpers);
}
