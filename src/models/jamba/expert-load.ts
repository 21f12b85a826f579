/** How evenly a MoE layer's router spreads the tokens: the fraction of routed slots per expert. */
import { softmax, topK } from '../../ops/index.js';
import { tidy } from '../../tensor/memory.js';
import type { Tensor } from '../../tensor/tensor.js';

/**
 * Router logits (T, n) → for each expert, the fraction of the T·k (token, slot) choices that went
 * to it (sums to 1; 1/n each when perfectly balanced). Reads the top-k indices back.
 */
export async function expertTokenFractions(routerLogits: Tensor, k: number): Promise<number[]> {
  const n = routerLogits.shape[routerLogits.rank - 1]!;
  const indices = tidy(() => topK(softmax(routerLogits), k).indices);
  const ids = await indices.data();
  indices.dispose();
  const counts = new Array<number>(n).fill(0);
  for (const e of ids) counts[e]!++;
  return counts.map((c) => c / ids.length);
}
