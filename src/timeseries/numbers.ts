/**
 * The numbers forecasting reads from files (CSV cells, a model folder's scaler): which texts are
 * numbers, and which numbers survive float32, the precision every tensor computes in. A value that
 * is finite as a JavaScript number but not in float32 (1e39) would become Infinity in the model's
 * input and turn every forecast into NaN, so it is refused where it is read.
 */

import { quoteForMessage } from '../quote.js';
/** The largest finite float32, 2^128 − 2^104. */
export const F32_MAX = 3.4028234663852886e38;

/** The smallest positive normal float32, 2^−126; below it float32 loses precision (subnormals). */
export const F32_MIN_NORMAL = 1.1754943508222875e-38;

/** True for a number that stays finite when rounded to float32 (|x| up to F32_MAX, and a little past it that rounds down). */
export function isFiniteF32(x: number): boolean {
  return Number.isFinite(Math.fround(x));
}

/**
 * A decimal number as data files write it: optional sign, digits with an optional fraction (or a
 * fraction alone), optional exponent. Not JavaScript's Number() grammar, which also takes "0x10"
 * (as 16), "0b1", "0o7", "Infinity", and "" or " " (as 0). Written so that no two ways match the
 * same digits: a long run of digits that fails at its end is rejected in linear time.
 */
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** The number `text` writes, or NaN when it is not a decimal number (see DECIMAL). */
export function parseDecimal(text: string): number {
  return DECIMAL.test(text) ? Number(text) : NaN;
}

/** A cell or column name from a file for an error message: quoteForMessage, cut shorter (cells sit in long lines). */
export function quoteBounded(text: string, max = 24): string {
  return quoteForMessage(text, max);
}

/** A float32 value in the fewest digits that read back as the same float32 (3e+38, not 3.0000000054977558e+38). */
export function f32Text(x: number): string {
  const f = Math.fround(x);
  for (let p = 1; p < 9; p++) {
    const t = f.toPrecision(p);
    if (Math.fround(Number(t)) === f) return String(Number(t));
  }
  return String(f);
}
