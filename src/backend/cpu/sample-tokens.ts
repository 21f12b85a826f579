/**
 * The reference of ops/sample-tokens.ts: each row goes through the very code host sampling uses
 * (logits-process.ts's warpers, sampler.ts's draw) with a generator in the row's state, and the
 * advanced state is written back. A row with per-row warpers null takes the argmax (sampler.ts's)
 * and leaves its generator as it was.
 */
import type { SampleTokensPerRow, SampleTokensScalars } from '../backend.js';
import { processLogits } from '../../generation/logits-process.js';
import { argmax, Rng, sampleFromLogits } from '../../generation/sampler.js';

/** logits (B·V), state (B·4) int32 words updated in place → ids (B). */
export function sampleTokensRows(logits: Float32Array, V: number, state: Int32Array, o: SampleTokensScalars | SampleTokensPerRow, ids: Int32Array): void {
  const B = ids.length;
  const shared = 'rows' in o ? null : { doSample: true, ...o };
  for (let b = 0; b < B; b++) {
    const row = 'rows' in o ? o.rows[b]! : shared;
    if (row === null) {
      ids[b] = argmax(logits.subarray(b * V, (b + 1) * V));
      continue;
    }
    const warpers = shared ?? { doSample: true, ...row };
    const words = state.subarray(b * 4, b * 4 + 4);
    const rng = Rng.fromState([words[0]!, words[1]!, words[2]!, words[3]!]);
    ids[b] = sampleFromLogits(processLogits(logits.subarray(b * V, (b + 1) * V), [], warpers), rng);
    words.set(rng.state()); // Int32Array stores the u32 words' bits
  }
}
