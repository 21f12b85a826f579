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
 * Device limits (the CPU reference has none): a row whose logits are all -Infinity yields token 0
 * on a device (the CPU throws, as there is nothing to draw), and NaN or +Infinity logits are not
 * supported there.
 */
import { ArgumentError, UnsupportedError } from '../errors.js';
import type { SampleTokensScalars } from '../backend/backend.js';
import { checkOptionKeys, optionKeys } from '../options.js';
import type { Tensor } from '../tensor/tensor.js';
import { expectDtype, expectRank, expectShape, sameBackend } from './check.js';

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

/**
 * logits (B, V) float32, rngState (B, 4) int32 (each row's xoshiro128** state words, not all zero;
 * Rng.state() gives them) → the drawn token ids, int32 (B, 1). Advances rngState in place by one
 * draw per row (see the file comment). Never records gradients.
 */
export function sampleTokens(logits: Tensor, rngState: Tensor, o: SampleTokensOptions = {}): Tensor {
  sameBackend('sampleTokens', logits, rngState);
  expectRank('sampleTokens', 'logits', logits, 2);
  expectDtype('sampleTokens', 'logits', logits, 'f32');
  const [B, V] = logits.shape as [number, number];
  if (B < 1 || V < 1) throw new ArgumentError(`sampleTokens: logits must have at least one row and one column, got [${B}, ${V}]`);
  expectShape('sampleTokens', 'rngState', rngState, [B, 4]);
  expectDtype('sampleTokens', 'rngState', rngState, 'i32');
  const scalars = sampleTokensScalars(o);
  const kernel = logits.backend.sampleTokens;
  if (!kernel) throw new UnsupportedError(`sampleTokens: the ${logits.device} backend has no sampling kernel`);
  return kernel.call(logits.backend, logits, rngState, scalars);
}
