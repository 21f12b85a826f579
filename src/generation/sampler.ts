/** Picking the next token from processed logits: argmax, or a seeded multinomial draw. */
import { ArgumentError } from '../errors.js';
import { processLogits, type SamplingOptions } from './logits-process.js';

/** A seeded generator of uniform floats in [0, 1) (xoshiro128**, seeded through splitmix32). */
export class Rng {
  private s = new Uint32Array(4);
  constructor(seed?: number) {
    let x = (seed ?? Math.floor(Math.random() * 2 ** 32)) >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }
  next(): number {
    const s = this.s;
    const r = Math.imul(rotl(Math.imul(s[1]!, 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return r / 4294967296;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Index of the first maximum; NaN never wins, and an all-NaN row is an error. */
export function argmax(row: Float32Array): number {
  let best = -1;
  let bv = -Infinity;
  for (let i = 0; i < row.length; i++) {
    const v = row[i]!;
    if (v > bv || (best < 0 && v === -Infinity)) {
      bv = v;
      best = i;
    }
  }
  if (best < 0) throw new ArgumentError('argmax: every logit is NaN (the model produced no numbers)');
  return best;
}

/** Draws an index with probability softmax(row). */
export function sampleFromLogits(row: Float32Array, rng: Rng): number {
  const m = row[argmax(row)]!;
  if (m === -Infinity) throw new ArgumentError('sample: every token was filtered out');
  let total = 0;
  const w = new Float64Array(row.length);
  for (let i = 0; i < row.length; i++) {
    const v = row[i]!;
    w[i] = v === -Infinity || Number.isNaN(v) ? 0 : Math.exp(v - m);
    total += w[i]!;
  }
  let u = rng.next() * total;
  let last = 0;
  for (let i = 0; i < w.length; i++) {
    if (w[i]! === 0) continue;
    last = i;
    u -= w[i]!;
    if (u < 0) return i;
  }
  return last; // rounding left u at ~0: the last token with weight
}

/** HF's decoding step: processors, then argmax (greedy) or a draw (sampling). */
export function pickNextToken(logits: Float32Array, previousIds: ArrayLike<number>, o: SamplingOptions, rng: Rng): number {
  const processed = processLogits(logits, previousIds, o);
  return o.doSample ? sampleFromLogits(processed, rng) : argmax(processed);
}
