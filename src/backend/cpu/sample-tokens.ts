/**
 * The reference of ops/sample-tokens.ts: each row goes through the very code host sampling uses
 * (logits-process.ts's warpers, sampler.ts's draw) with a generator in the row's state, and the
 * advanced state is written back.
 */
import type { SampleTokensScalars } from '../backend.js';
import { processLogits } from '../../generation/logits-process.js';
import { Rng, sampleFromLogits } from '../../generation/sampler.js';

/** logits (B·V), state (B·4) int32 words updated in place → ids (B). */
export function sampleTokensRows(logits: Float32Array, V: number, state: Int32Array, o: SampleTokensScalars, ids: Int32Array): void {
  const B = ids.length;
  const warpers = { doSample: true, ...o };
  for (let b = 0; b < B; b++) {
    const words = state.subarray(b * 4, b * 4 + 4);
    const rng = Rng.fromState([words[0]!, words[1]!, words[2]!, words[3]!]);
    ids[b] = sampleFromLogits(processLogits(logits.subarray(b * V, (b + 1) * V), [], warpers), rng);
    words.set(rng.state()); // Int32Array stores the u32 words' bits
  }
}
