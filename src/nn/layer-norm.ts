/**
 * LayerNorm over the last axis (PyTorch's nn.LayerNorm(dim), parameters `weight` and `bias`):
 *   y = (x − mean(x)) / sqrt(var(x) + eps) · weight + bias
 * computed as rmsNorm(x − mean(x)) · weight + bias — the RMS of a centred row is its standard
 * deviation — so it reuses the fused rmsNorm kernel and its backward on every backend.
 */
import { add, rmsNorm, reshape, scale, sub, sum } from '../ops/index.js';
import { tidy } from '../tensor/memory.js';
import type { Tensor } from '../tensor/tensor.js';
import { Module, type Parameter } from './module.js';

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
    return tidy(() => {
      const mean = reshape(scale(sum(x), 1 / this.dim), [...x.shape.slice(0, -1), 1]);
      return add(rmsNorm(sub(x, mean), this.weight.value, this.eps), this.bias.value);
    });
  }
}
