/**
 * Picking the next token from logits: argmax, or a seeded multinomial draw. Seeded runs are
 * reproducible here, but cannot match torch's generator, so sampled text differs from HF's.
 */
import { ArgumentError } from '../errors.js';
import { processLogits, type SamplingOptions } from './logits-process.js';

/**
 * A seeded generator of uniform floats in [0, 1): xoshiro128** (small, fast, passes BigCrush), its
 * state filled from the seed through a splitmix-style hash so that nearby seeds give unrelated
 * streams and the state is never all zero.
 */
export class Rng {
  private readonly s = new Uint32Array(4);

  constructor(seed?: number) {
    const v = seed ?? Math.floor(Math.random() * 2 ** 53);
    // Both halves of a (safe-integer) seed matter, so 1 and 2^32 + 1 differ.
    let x = (v >>> 0) ^ Math.imul(Math.floor(v / 2 ** 32) >>> 0, 0x9e3779b1);
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0; // a bijection of distinct inputs: never all zero
    }
  }

  /** A generator in exactly this state (four 32-bit words, not all zero); for tests against the reference. */
  static fromState(state: readonly [number, number, number, number]): Rng {
    if (state.every((w) => w >>> 0 === 0)) throw new ArgumentError('Rng.fromState: the state must not be all zero');
    const r = new Rng(0);
    r.s.set(state.map((w) => w >>> 0));
    return r;
  }

  /** The four 32-bit state words (unsigned), e.g. to continue this stream on a device (ops/sample-tokens.ts). */
  state(): [number, number, number, number] {
    return [this.s[0]!, this.s[1]!, this.s[2]!, this.s[3]!];
  }

  /** The next raw 32-bit output. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2] = s[2]! ^ s[0]!;
    s[3] = s[3]! ^ s[1]!;
    s[1] = s[1]! ^ s[2]!;
    s[0] = s[0]! ^ s[3]!;
    s[2] = s[2]! ^ t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** Uniform in [0, 1) with 32 bits of resolution (enough for a 50k-token multinomial draw). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Index of the first maximum; NaN never wins, and an empty or all-NaN row is an error. */
export function argmax(row: Float32Array): number {
  let best = -1;
  let bv = -Infinity;
  for (let i = 0; i < row.length; i++) {
    const v = row[i]!;
    // `best < 0` lets a row of only -Infinity (and NaN) still answer its first -Infinity.
    if (v > bv || (best < 0 && v === -Infinity)) {
      bv = v;
      best = i;
    }
  }
  if (row.length === 0) throw new ArgumentError('argmax: empty row of logits');
  if (best < 0) throw new ArgumentError(`argmax: all ${row.length} logits are NaN (the model produced no numbers)`);
  return best;
}

/**
 * Draws an index with probability softmax(row), computed with the maximum subtracted; -Infinity and
 * NaN entries get no probability. If some logits are +Infinity they share all the mass (the limit
 * of the softmax) instead of turning every probability into NaN.
 */
export function sampleFromLogits(row: Float32Array, rng: Rng): number {
  const m = row[argmax(row)]!;
  if (m === -Infinity) throw new ArgumentError('sample: every token was filtered out (all logits are -Infinity)');
  const w = new Float64Array(row.length);
  let total = 0;
  for (let i = 0; i < row.length; i++) {
    const v = row[i]!;
    const wi = m === Infinity ? (v === Infinity ? 1 : 0) : v > -Infinity ? Math.exp(v - m) : 0; // NaN > x is false
    w[i] = wi;
    total += wi;
  }
  let u = rng.next() * total;
  let last = -1;
  for (let i = 0; i < w.length; i++) {
    if (w[i] === 0) continue;
    last = i;
    u -= w[i]!;
    if (u < 0) return i;
  }
  return last; // rounding left u at ~0 after the last token with weight
}

/**
 * HF's decoding step for one sequence: the processors, then argmax (greedy, where only the
 * repetition penalty applies) or a draw (sampling).
 */
export function pickNextToken(logits: Float32Array, previousIds: ArrayLike<number>, o: SamplingOptions, rng: Rng): number {
  const processed = processLogits(logits, previousIds, o);
  return o.doSample ? sampleFromLogits(processed, rng) : argmax(processed);
}
