/**
 * What a forecasting folder's config.json says about the data beside the model's own fields:
 * `columns` (the variates), `scaler` (the train split's mean and std per variate) and `split` (the
 * rows per split, for `forecast --evaluate`). Checked on load against the model's variate count,
 * since a std of 0, a string or a null there would silently turn forecasts into NaN or wrong
 * numbers.
 */
import { FormatError } from '../errors.js';
import { jsonKind } from '../io/json.js';
import { isUsableStd, type SplitRows, type Standardizer } from './dataset.js';
import { F32_MAX, F32_MIN_NORMAL, isFiniteF32, quoteBounded } from './numbers.js';

/** config.json's `columns`: M distinct variate names. */
export function parseColumns(raw: unknown, M: number, source: string): string[] {
  if (!Array.isArray(raw) || raw.length !== M || raw.some((c) => typeof c !== 'string')) {
    throw new FormatError(source, `field "columns": expected the ${M} variate names the model was trained on, got ${Array.isArray(raw) ? `an array of ${raw.length}` : jsonKind(raw)}`);
  }
  const names = raw as string[];
  const twice = names.find((c, i) => names.indexOf(c) !== i);
  if (twice !== undefined) throw new FormatError(source, `field "columns": ${quoteBounded(twice)} is named twice`);
  return [...names];
}

/** One of the scaler's arrays: M numbers, each finite in float32 and, for `std`, one it may divide by. */
function scalerArray(raw: unknown, key: 'mean' | 'std', M: number, source: string): number[] {
  const name = `scaler.${key}`;
  if (!Array.isArray(raw) || raw.length !== M) {
    throw new FormatError(source, `field "${name}": expected an array of ${M} numbers (one per variate), got ${Array.isArray(raw) ? `an array of ${raw.length}` : jsonKind(raw)}`);
  }
  raw.forEach((v: unknown, j) => {
    if (typeof v !== 'number') throw new FormatError(source, `field "${name}[${j}]": expected a number, got ${jsonKind(v)}`);
    if (!isFiniteF32(v)) throw new FormatError(source, `field "${name}[${j}]": ${v} is beyond the float32 range (±${F32_MAX.toPrecision(8)})`);
    if (key === 'std' && !isUsableStd(v)) {
      throw new FormatError(source, `field "${name}[${j}]": ${v} cannot scale a variate: a std must be at least ${F32_MIN_NORMAL.toPrecision(8)} (a constant column is written with std 1)`);
    }
  });
  return [...(raw as number[])];
}

/** config.json's `scaler`: { mean: [M numbers], std: [M numbers] }. */
export function parseStandardizer(raw: unknown, M: number, source: string): Standardizer {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new FormatError(source, `field "scaler": expected { "mean": [${M} numbers], "std": [${M} numbers] } (the train split's statistics), got ${jsonKind(raw)}`);
  }
  const r = raw as Record<string, unknown>;
  return { mean: scalerArray(r['mean'], 'mean', M, source), std: scalerArray(r['std'], 'std', M, source) };
}

/** config.json's optional `split`: row counts, integers >= 1, as training wrote them (forecast-config.ts asks the same). */
export function parseSplit(raw: unknown, source: string): SplitRows | undefined {
  if (raw === undefined) return undefined;
  const expected = 'expected { "train": rows, "val": rows, "test": rows } (integers >= 1)';
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new FormatError(source, `field "split": ${expected}, got ${jsonKind(raw)}`);
  const r = raw as Record<string, unknown>;
  const rows = (k: keyof SplitRows): number => {
    const v = r[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new FormatError(source, `field "split.${k}": ${expected}, got ${typeof v === 'number' ? v : jsonKind(v)}`);
    return v;
  };
  return { train: rows('train'), val: rows('val'), test: rows('test') };
}
