/**
 * Logits processors with HF transformers' semantics (generation/logits_process.py), applied in HF's
 * order: repetition penalty, then (only when sampling) temperature, top-k, top-p, min-p. They work
 * in place on one row of float32 logits; removed tokens become -Infinity, as HF's filter_value.
 * Every option is off unless set, as in transformers 5's GenerationConfig (older transformers
 * sampled with top_k=50 by default).
 */
import { ArgumentError } from '../errors.js';
import type { KeyRecord } from '../options.js';

export interface SamplingOptions {
  /** Sample (true) or take the argmax (false, the default). */
  doSample?: boolean;
  /** Divides the logits when sampling (> 0; 1 = off). */
  temperature?: number;
  /** Keep the k most likely tokens and any tied with the k-th (0 = off). */
  topK?: number;
  /** Keep the smallest set of most likely tokens with probability mass >= topP (1 = off). */
  topP?: number;
  /** Keep tokens with p >= minP · max p (0 = off); on probabilities after temperature, as HF. */
  minP?: number;
  /** CTRL's penalty on every token already in the sequence, prompt included (1 = off). */
  repetitionPenalty?: number;
  /**
   * Seed for reproducible sampling (any integer). Sequence b of a batch draws from its own
   * generator seeded with seed + b, so a batch gives each row the tokens it would get generated
   * alone with seed + b. Without a seed, every row gets an independent random one.
   */
  seed?: number;
}

/** The keys of SamplingOptions (checked against the interface at compile time). */
export const SAMPLING_OPTION_KEYS: KeyRecord<SamplingOptions> = {
  doSample: true,
  temperature: true,
  topK: true,
  topP: true,
  minP: true,
  repetitionPenalty: true,
  seed: true,
};

/** Throws ArgumentError naming the first option out of its range. */
export function validateSamplingOptions(o: SamplingOptions): void {
  const check = (ok: boolean, name: string, want: string, v: unknown) => {
    if (!ok) throw new ArgumentError(`${name} must be ${want}, got ${String(v)}`);
  };
  const { doSample, temperature: t, topK: k, topP: p, minP: m, repetitionPenalty: r, seed: s } = o;
  if (doSample !== undefined) check(typeof doSample === 'boolean', 'doSample', 'true or false', doSample);
  if (t !== undefined) {
    // Greedy decoding ignores temperature, so 0 is harmless there (and a common way to say
    // "greedy"); when sampling it would divide by zero, which HF also refuses.
    if (doSample) check(Number.isFinite(t) && t > 0, 'temperature', 'a number > 0 when sampling (for greedy decoding set doSample false)', t);
    else check(Number.isFinite(t) && t >= 0, 'temperature', 'a number >= 0', t);
  }
  if (k !== undefined) check(Number.isInteger(k) && k >= 0, 'topK', 'an integer >= 0 (0 = off)', k);
  if (p !== undefined) check(Number.isFinite(p) && p > 0 && p <= 1, 'topP', 'in (0, 1] (1 = off)', p);
  if (m !== undefined) check(Number.isFinite(m) && m >= 0 && m <= 1, 'minP', 'in [0, 1] (0 = off)', m);
  if (r !== undefined) check(Number.isFinite(r) && r > 0, 'repetitionPenalty', 'a number > 0 (1 = off)', r);
  if (s !== undefined) check(Number.isSafeInteger(s), 'seed', 'an integer', s);
}

/**
 * score < 0 ? score · p : score / p, once for every distinct id in `previousIds`. The penalty is
 * rounded to float32 first because torch casts the Python scalar to the tensor's dtype; with that,
 * the results are bit-identical to HF's.
 */
export function applyRepetitionPenalty(logits: Float32Array, previousIds: ArrayLike<number>, penalty: number): void {
  if (penalty === 1) return;
  const p = Math.fround(penalty);
  const seen = new Set<number>();
  for (let i = 0; i < previousIds.length; i++) {
    const id = previousIds[i]!;
    if (!Number.isInteger(id) || id < 0 || id >= logits.length) {
      throw new ArgumentError(`repetition penalty: token id ${id} is outside the vocabulary [0, ${logits.length})`);
    }
    seen.add(id);
  }
  for (const id of seen) {
    const s = logits[id]!;
    logits[id] = s < 0 ? s * p : s / p;
  }
}

/** HF's TemperatureLogitsWarper (float32 division, as torch). */
export function applyTemperature(logits: Float32Array, temperature: number): void {
  if (temperature === 1) return;
  const t = Math.fround(temperature);
  for (let i = 0; i < logits.length; i++) logits[i] = logits[i]! / t;
}

/**
 * HF's TopKLogitsWarper: remove everything strictly below the k-th largest value, so ties with the
 * k-th value all stay. -Infinity entries count as values, as in torch.topk.
 */
export function applyTopK(logits: Float32Array, k: number): void {
  if (k <= 0 || k >= logits.length) return;
  const kth = kthLargest(logits, k);
  if (Number.isNaN(kth)) return;
  for (let i = 0; i < logits.length; i++) if (logits[i]! < kth) logits[i] = -Infinity;
}

/**
 * The k-th largest value. A min-heap of the k largest so far costs O(V log k), a tenth of sorting a
 * 50k vocabulary for the usual k <= 100. With a NaN present (or a large k) it sorts instead:
 * typed-array sort puts NaNs last, i.e. counts them as the largest values, as torch.topk does.
 */
function kthLargest(x: Float32Array, k: number): number {
  const bySort = () => Float32Array.from(x).sort()[x.length - k]!;
  if (k > 1024) return bySort();
  const heap = new Float32Array(k);
  let size = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (Number.isNaN(v)) return bySort();
    if (size < k) {
      let j = size++; // sift up
      while (j > 0 && heap[(j - 1) >> 1]! > v) {
        heap[j] = heap[(j - 1) >> 1]!;
        j = (j - 1) >> 1;
      }
      heap[j] = v;
    } else if (v > heap[0]!) {
      let j = 0; // replace the smallest and sift down
      for (;;) {
        let c = 2 * j + 1;
        if (c >= k) break;
        if (c + 1 < k && heap[c + 1]! < heap[c]!) c++;
        if (heap[c]! >= v) break;
        heap[j] = heap[c]!;
        j = c;
      }
      heap[j] = v;
    }
  }
  return heap[0]!;
}

/**
 * HF's TopPLogitsWarper: sort ascending, take cumulative softmax probabilities, remove the tokens
 * whose cumulative probability is <= 1 - topP; the most likely token always stays. Equivalently,
 * keep the smallest set of most likely tokens whose mass reaches topP.
 *
 * Rather than sorting 50k indices with a JS comparator (tens of ms), the values are sorted natively
 * and the cut is a threshold value plus a count of ties at it. Among tokens tied at the cut, the
 * lower indices go first, as torch's CPU sort orders them (checked against transformers 5.17 /
 * torch 2.11: logits [0, 0, 0, 0] with topP 0.75 lose index 0).
 */
export function applyTopP(logits: Float32Array, topP: number): void {
  if (topP >= 1) return;
  // Tokens already at -Infinity have probability 0 and would be removed anyway, so only the others
  // are sorted (after top-k, just k of them).
  let n = 0;
  for (const v of logits) if (v !== -Infinity) n++;
  if (n < 2) return;
  const sorted = new Float32Array(n);
  n = 0;
  for (const v of logits) if (v !== -Infinity) sorted[n++] = v;
  sorted.sort();
  const max = sorted[n - 1]!;
  if (Number.isNaN(max) || max === Infinity) return; // torch: NaN probabilities remove nothing
  const e = new Float64Array(n);
  let z = 0;
  for (let j = 0; j < n; j++) z += e[j] = Math.exp(sorted[j]! - max);
  // torch compares the float32 cumulative sum (accumulated in double on the CPU) with 1 - top_p
  // cast to float32; rounding both the same way keeps boundary cases such as topP = 0.75 with a
  // mass of exactly 0.25 on the removed side.
  const limit = Math.fround(1 - topP);
  let cum = 0;
  let cut = -1; // sorted[0..cut] are removed; the cumulative sum only grows, so it is a prefix
  for (let j = 0; j < n - 1; j++) {
    cum += e[j]! / z;
    if (Math.fround(cum) > limit) break;
    cut = j;
  }
  if (cut < 0) return;
  const threshold = sorted[cut]!;
  let tiesToRemove = 1;
  for (let j = cut - 1; j >= 0 && sorted[j] === threshold; j--) tiesToRemove++;
  for (let i = 0; i < logits.length; i++) if (logits[i]! < threshold) logits[i] = -Infinity;
  for (let i = 0; i < logits.length && tiesToRemove > 0; i++) {
    if (logits[i] === threshold) {
      logits[i] = -Infinity;
      tiesToRemove--;
    }
  }
}

/**
 * HF's MinPLogitsWarper: remove tokens with probability < minP · (top probability). Since
 * p_i / p_max = exp(l_i - l_max), the softmax normalizer is not needed; the top token (and any tied
 * with it) always stays.
 */
export function applyMinP(logits: Float32Array, minP: number): void {
  if (minP <= 0) return;
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  if (max === -Infinity || max === Infinity) return; // nothing left, or an overflowed logit: no scale
  for (let i = 0; i < logits.length; i++) if (Math.exp(logits[i]! - max) < minP) logits[i] = -Infinity;
}

/** The processed copy of one row of logits, as HF's logits processor list for these options. */
export function processLogits(logits: Float32Array, previousIds: ArrayLike<number>, o: SamplingOptions): Float32Array {
  const out = Float32Array.from(logits);
  applyRepetitionPenalty(out, previousIds, o.repetitionPenalty ?? 1);
  if (!o.doSample) return out; // HF applies the warpers only when sampling
  applyTemperature(out, o.temperature ?? 1);
  applyTopK(out, o.topK ?? 0);
  applyTopP(out, o.topP ?? 1);
  applyMinP(out, o.minP ?? 0);
  return out;
}
