/** Reverse along one axis: viewing x as (outer, n, inner), out[o, j, :] = x[o, n-1-j, :]. */
import type { DataArray } from '../../tensor/dtype.js';
import type { Shape } from '../../tensor/shape.js';

export function flipKernel(x: DataArray, shape: Shape, axis: number, out: DataArray): void {
  const n = shape[axis]!;
  const inner = shape.slice(axis + 1).reduce((p, q) => p * q, 1);
  const outer = shape.slice(0, axis).reduce((p, q) => p * q, 1);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < n; j++) {
      const src = (o * n + n - 1 - j) * inner;
      out.set(x.subarray(src, src + inner), (o * n + j) * inner);
    }
  }
}
