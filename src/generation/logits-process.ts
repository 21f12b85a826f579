/**
 * Logits processors with HF transformers' semantics (generation/logits_process.py), applied in HF's
 * order: repetition penalty, then (when sampling) temperature, top-k, top-p, min-p. They work on one
 * row of logits; removed tokens become -Infinity.
 */
import { ArgumentError } from '../errors.js';

export interface SamplingOptions {
  /** Sample (true) or take the argmax (false, the default). */
  doSample?: boolean;
  /** Divides the logits (> 0; 1 = off). */
  temperature?: number;
  /** Keep the k most likely tokens (0 = off). */
  topK?: number;
  /** Keep the smallest set with probability mass >= topP (1 = off). */
  topP?: number;
  /** Keep tokens with p >= minP · max p (0 = off); on probabilities, as HF's MinPLogitsWarper. */
  minP?: number;
  /** CTRL's penalty on tokens already present (1 = off). */
  repetitionPenalty?: number;
  /** Seed for reproducible sampling. */
  seed?: number;
}

export function validateSamplingOptions(o: SamplingOptions): void {
  const check = (ok: boolean, name: string, want: string, v: unknown) => {
    if (!ok) throw new ArgumentError(`${name} must be ${want}, got ${String(v)}`);
  };
  const { temperature: t, topK: k, topP: p, minP: m, repetitionPenalty: r, seed: s } = o;
  if (t !== undefined) check(Number.isFinite(t) && t > 0, 'temperature', 'a number > 0', t);
  if (k !== undefined) check(Number.isInteger(k) && k >= 0, 'topK', 'an integer >= 0', k);
  if (p !== undefined) check(Number.isFinite(p) && p > 0 && p <= 1, 'topP', 'in (0, 1]', p);
  if (m !== undefined) check(Number.isFinite(m) && m >= 0 && m <= 1, 'minP', 'in [0, 1]', m);
  if (r !== undefined) check(Number.isFinite(r) && r > 0, 'repetitionPenalty', 'a number > 0', r);
  if (s !== undefined) check(Number.isInteger(s), 'seed', 'an integer', s);
}

/** score < 0 ? score · p : score / p for every distinct id already in the sequence. */
export function applyRepetitionPenalty(logits: Float32Array, previousIds: ArrayLike<number>, penalty: number): void {
  if (penalty === 1) return;
  const seen = new Set<number>();
  for (let i = 0; i < previousIds.length; i++) seen.add(previousIds[i]!);
  for (const id of seen) {
    if (id < 0 || id >= logits.length) continue;
    const s = logits[id]!;
    logits[id] = s < 0 ? s * penalty : s / penalty;
  }
}

/** Removes everything below the k-th largest value (ties with it are kept, as HF's `<` test). */
export function applyTopK(logits: Float32Array, k: number): void {
  if (k <= 0 || k >= logits.length) return;
  const kth = Float32Array.from(logits).sort().reverse()[k - 1]!;
  for (let i = 0; i < logits.length; i++) if (logits[i]! < kth) logits[i] = -Infinity;
}

function softmax(logits: Float32Array): Float64Array {
  let m = -Infinity;
  for (const v of logits) if (v > m) m = v;
  const p = new Float64Array(logits.length);
  let s = 0;
  for (let i = 0; i < logits.length; i++) {
    p[i] = logits[i] === -Infinity ? 0 : Math.exp(logits[i]! - m);
    s += p[i]!;
  }
  for (let i = 0; i < p.length; i++) p[i] = p[i]! / s;
  return p;
}

/**
 * HF's TopPLogitsWarper: sort ascending, remove tokens whose cumulative probability is
 * <= 1 - topP; the most likely token always stays.
 */
export function applyTopP(logits: Float32Array, topP: number): void {
  if (topP >= 1) return;
  const p = softmax(logits);
  const order = Array.from(logits.keys()).sort((a, b) => logits[a]! - logits[b]! || b - a);
  let cum = 0;
  for (let j = 0; j < order.length - 1; j++) {
    cum += p[order[j]!]!;
    if (cum <= 1 - topP) logits[order[j]!] = -Infinity;
  }
}

/** HF's MinPLogitsWarper: remove tokens with probability < minP · (top probability). */
export function applyMinP(logits: Float32Array, minP: number): void {
  if (minP <= 0) return;
  const p = softmax(logits);
  let top = 0;
  for (const v of p) if (v > top) top = v;
  for (let i = 0; i < p.length; i++) if (p[i]! < minP * top) logits[i] = -Infinity;
}

/** The processed copy of one row of logits. */
export function processLogits(logits: Float32Array, previousIds: ArrayLike<number>, o: SamplingOptions): Float32Array {
  const out = Float32Array.from(logits);
  applyRepetitionPenalty(out, previousIds, o.repetitionPenalty ?? 1);
  if (!o.doSample) return out;
  const t = o.temperature ?? 1;
  if (t !== 1) for (let i = 0; i < out.length; i++) out[i] = out[i]! / t;
  applyTopK(out, o.topK ?? 0);
  applyTopP(out, o.topP ?? 1);
  applyMinP(out, o.minP ?? 0);
  return out;
}
