/** Summing a broadcast gradient back to an input's shape, with the ops there are. */
import { reshape, transpose } from '../ops/shape.js';
import { sum } from '../ops/reduce.js';
import type { Tensor } from '../tensor/tensor.js';
import { tidy } from '../tensor/memory.js';

/**
 * g has the broadcast (output) shape; `shape` is the input's. Axes that the input lacks (leading)
 * or had as 1 are summed: they are moved last, folded into one, and reduced with sum().
 */
export function reduceTo(g: Tensor, shape: readonly number[]): Tensor {
  return tidy(() => {
    const r = g.rank;
    const off = r - shape.length;
    const reduced: number[] = [];
    const kept: number[] = [];
    for (let a = 0; a < r; a++) {
      if (a < off || (shape[a - off] === 1 && g.shape[a] !== 1)) reduced.push(a);
      else kept.push(a);
    }
    if (reduced.length === 0) return reshape(g, shape);
    const keptShape = kept.map((a) => g.shape[a]!);
    const moved = transpose(g, [...kept, ...reduced]);
    const folded = reshape(moved, [...keptShape, reduced.reduce((p, a) => p * g.shape[a]!, 1)]);
    return reshape(sum(folded), shape);
  });
}
