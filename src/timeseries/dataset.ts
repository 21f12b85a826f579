/**
 * The long-term forecasting protocol of Time-Series-Library (`Dataset_ETT_hour`, identical in
 * TSMixer's and SAMFormer's loaders):
 * - borders: train [0, n₁), val [n₁ − L, n₁ + n₂), test [n₁ + n₂ − L, n₁ + n₂ + n₃); for ETT-hourly
 *   n₁, n₂, n₃ = 12, 4, 4 months of 30 days = 8640, 2880, 2880 rows (later rows are never used);
 * - every column standardised with the train split's mean and (population) std, as sklearn's
 *   StandardScaler; metrics on that scale;
 * - windows of stride 1: window i is x = rows [i, i+L), y = rows [i+L, i+L+H); count = len − L − H + 1.
 */
import { ArgumentError, FormatError } from '../errors.js';
import type { SeriesTable } from './csv.js';
import { F32_MIN_NORMAL, f32Text, isFiniteF32, quoteBounded } from './numbers.js';

/** Rows per split (train, val, test), before the L-row overlap of val and test. */
export interface SplitRows {
  train: number;
  val: number;
  test: number;
}

/** ETT hourly: 12 / 4 / 4 months of 30 days. */
export const ETT_HOUR_SPLIT: SplitRows = { train: 12 * 30 * 24, val: 4 * 30 * 24, test: 4 * 30 * 24 };

export interface Standardizer {
  mean: number[];
  std: number[];
}

/** Per-column mean and population std of rows [0, rows) of values (rows × M). */
export function fitStandardizer(values: Float32Array, M: number, rows: number): Standardizer {
  const mean = new Array<number>(M).fill(0);
  const sq = new Array<number>(M).fill(0);
  for (let r = 0; r < rows; r++) for (let j = 0; j < M; j++) mean[j]! += values[r * M + j]!;
  for (let j = 0; j < M; j++) mean[j] = mean[j]! / rows;
  for (let r = 0; r < rows; r++) for (let j = 0; j < M; j++) sq[j]! += (values[r * M + j]! - mean[j]!) ** 2;
  // sklearn keeps a zero-variance column unscaled (scale 1); so do we for a std float32 cannot
  // hold as a normal number, so that a fitted scaler always passes isUsableStd when loaded.
  const std = sq.map((s) => {
    const d = Math.sqrt(s / rows);
    return isUsableStd(d) ? d : 1;
  });
  return { mean, std };
}

/**
 * A std the scaler may divide by: a positive normal float32 (≥ 2^−126, ≤ F32_MAX). The rule a
 * fitted scaler follows (fitStandardizer) and a loaded one is checked against (meta.ts).
 */
export function isUsableStd(std: number): boolean {
  return typeof std === 'number' && isFiniteF32(std) && Math.fround(std) >= F32_MIN_NORMAL;
}

/** The index of the first value that is NaN or ±Infinity, or −1. */
export function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) return i;
  return -1;
}

export function standardize(values: Float32Array, M: number, s: Standardizer): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = (values[i]! - s.mean[i % M]!) / s.std[i % M]!;
  return out;
}

export function destandardize(values: Float32Array, M: number, s: Standardizer): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i]! * s.std[i % M]! + s.mean[i % M]!;
  return out;
}

/** One split's standardised rows and its sliding windows. */
export class WindowSet {
  readonly count: number;
  constructor(
    /** (rows, M) standardised. */
    readonly values: Float32Array,
    readonly M: number,
    readonly L: number,
    readonly H: number,
  ) {
    this.count = values.length / M - L - H + 1;
  }

  /** Windows `ids` gathered into x (B, L, M) and y (B, H, M), row-major. */
  batch(ids: readonly number[]): { x: Float32Array; y: Float32Array } {
    const { M, L, H } = this;
    const x = new Float32Array(ids.length * L * M);
    const y = new Float32Array(ids.length * H * M);
    ids.forEach((i, b) => {
      x.set(this.values.subarray(i * M, (i + L) * M), b * L * M);
      y.set(this.values.subarray((i + L) * M, (i + L + H) * M), b * H * M);
    });
    return { x, y };
  }
}

export interface ForecastData {
  columns: string[];
  scaler: Standardizer;
  train: WindowSet;
  val: WindowSet;
  test: WindowSet;
}

/** Splits, standardises with the train statistics and windows a table; refuses a table too short for one window per split. */
export function forecastSplits(t: SeriesTable, source: string, L: number, H: number, split: SplitRows = ETT_HOUR_SPLIT): ForecastData {
  for (const [k, v] of Object.entries({ lookback: L, horizon: H })) {
    if (!Number.isInteger(v) || v < 1) throw new ArgumentError(`forecastSplits: ${k} must be a positive integer, got ${v}`);
  }
  const M = t.columns.length;
  const need = split.train + split.val + split.test;
  if (t.rows < need) {
    throw new FormatError(source, `${t.rows} data rows, but the split needs ${need} (train ${split.train} + val ${split.val} + test ${split.test})`);
  }
  const b1 = split.train;
  const b2 = b1 + split.val;
  const b3 = b2 + split.test;
  const ranges: [string, number, number][] = [['train', 0, b1], ['val', b1 - L, b2], ['test', b2 - L, b3]];
  for (const [name, lo, hi] of ranges) {
    if (lo < 0 || hi - lo < L + H) {
      throw new FormatError(source, `the ${name} split has ${Math.max(0, hi - Math.max(lo, 0))} rows, too few for one window of lookback ${L} + horizon ${H} = ${L + H} rows`);
    }
  }
  const scaler = fitStandardizer(t.values, M, b1);
  const z = standardize(t.values.subarray(0, b3 * M), M, scaler);
  // Train rows are within √rows stds of their mean; a later row far beyond the train split's
  // spread can leave float32 once standardised, which would make every metric NaN.
  const bad = firstNonFinite(z);
  if (bad >= 0) {
    const row = Math.floor(bad / M);
    const j = bad % M;
    throw new FormatError(
      source,
      `row ${row + 2} (${quoteBounded(t.index[row]!)}), column ${quoteBounded(t.columns[j]!)}: ${f32Text(t.values[bad]!)} is too far from the train split's mean ${scaler.mean[j]} for its std ${scaler.std[j]}: standardised, it leaves the float32 range`,
    );
  }
  const [train, val, test] = ranges.map(([, lo, hi]) => new WindowSet(z.subarray(lo * M, hi * M), M, L, H)) as [WindowSet, WindowSet, WindowSet];
  return { columns: t.columns, scaler, train, val, test };
}
