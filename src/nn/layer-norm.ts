/**
 * LayerNorm over the last axis (PyTorch's nn.LayerNorm): (x − mean) / √(var + eps) · weight + bias,
 * with the biased variance. Composed from ops (sum, sub, mul, rsqrt), so its backward comes from
 * theirs; normalising over several trailing axes (TSMixer's 2D norm) is a reshape to one axis first.
 */
import { add, affine, mul, reshape, rsqrt, scale, sub, sum } from '../ops/index.js';
import { tidy } from '../tensor/memory.js';
import type { Tensor } from '../tensor/tensor.js';
import { Module, type Parameter } from './module.js';

export function layerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps: number): Tensor {
  return tidy(() => {
    const n = x.shape[x.rank - 1]!;
    const lead = [...x.shape.slice(0, -1), 1];
    const xc = sub(x, reshape(scale(sum(x), 1 / n), lead));
    const r = reshape(rsqrt(affine(sum(mul(xc, xc)), 1 / n, eps)), lead);
    let y = mul(xc, r);
    if (weight) y = mul(y, weight);
    if (bias) y = add(y, bias);
    return y;
  });
}

export class LayerNorm extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter;
  constructor(
    readonly dim: number,
    readonly eps = 1e-5,
  ) {
    super();
    this.weight = this.param('weight', [dim]);
    this.bias = this.param('bias', [dim]);
  }
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight.value, this.bias.value, this.eps);
  }
}
