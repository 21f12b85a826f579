/**
 * Feeding prompts through a model before decoding, shared by generate() and the server (each
 * prompt of `mamba-ts serve` is prefilled alone, exactly as a solo generate() would).
 */
import { envSwitch } from '../env.js';
import { noGrad } from '../autograd/tape.js';
import type { Tensor } from '../tensor/tensor.js';
import type { CausalLM, DecodeCache } from './causal-lm.js';

/**
 * Prompt tokens (over all rows) fed through the model at once at most: a longer batch of prompts
 * goes in chunks along the sequence, each continuing from the cache the previous one filled, so
 * that no activation of the prefill outgrows the device (WebGPU binds at most 2 GiB per buffer,
 * and (B·L, 2E) in_proj outputs reach that at batch 64 × 2048 tokens of a 1.4B Mamba).
 * MAMBA_TS_PREFILL_TOKENS overrides it, for tests and benchmarks.
 */
function prefillTokens(): number {
  const env = Number(envSwitch('MAMBA_TS_PREFILL_TOKENS'));
  return Number.isInteger(env) && env > 0 ? env : 16384;
}

/** The prompt through the model, in chunks of whole rows' positions (see prefillTokens); the last chunk's logits. */
export async function prefillPrompt<C extends DecodeCache>(model: CausalLM<C>, cache: C, ids: number[][], mask: number[][] | undefined): Promise<Tensor> {
  const L = ids[0]?.length ?? 0;
  // At least 16 positions a chunk, so that chunks stay on the parallel path (a last chunk of one
  // token takes the recurrent step, which gives the same numbers; with padding in it, the parallel path).
  const chunk = Math.max(16, Math.floor(prefillTokens() / Math.max(1, ids.length)));
  if (L <= chunk) return noGrad(() => model.nextLogits(ids, cache, mask));
  let logits: Tensor | null = null;
  for (let a = 0; a < L; a += chunk) {
    const part = (rows: number[][]) => rows.map((r) => r.slice(a, a + chunk));
    if (logits) {
      // Wait for the device to finish the previous chunk before recording the next: else the host
      // records the whole prompt seconds ahead of the GPU, and every chunk's temporaries that the
      // pool does not keep (destroyed, but freed only once the GPU is past them) are held at once —
      // a 1.3B Transformer at batch 64 × 2048, or 128k tokens of a small one, ran out of 80 GB so.
      await logits.backend.sync?.();
      logits.dispose();
      logits = null;
    }
    logits = await noGrad(() => model.nextLogits(part(ids), cache, mask && part(mask)));
  }
  return logits!;
}
