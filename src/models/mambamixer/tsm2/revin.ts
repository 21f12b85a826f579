/**
 * Reversible instance normalisation (Kim et al. 2022; PatchTST's `RevIN`): each series (b, m) is
 * normalised by its own lookback mean and std before the model, with a learnable per-variate affine,
 * and the forecast is mapped back with the same statistics. The statistics come from the data only
 * (no gradient flows into them, as PatchTST detaches them).
 */
import { add, affine, div, mul, reshape, sqrt, scale, sub, sum } from '../../../ops/index.js';
import { noGrad } from '../../../autograd/tape.js';
import type { Tensor } from '../../../tensor/tensor.js';
import { Module, type Parameter } from '../../../nn/module.js';

export interface RevinStats {
  mean: Tensor; // (B, M, 1)
  std: Tensor; // (B, M, 1)
}

export class RevIN extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter;
  constructor(
    readonly nVars: number,
    readonly eps = 1e-5,
  ) {
    super();
    this.weight = this.param('weight', [nVars]);
    this.bias = this.param('bias', [nVars]);
  }

  /** xt (B, M, L) → the normalised series and the statistics for `denorm`. */
  norm(xt: Tensor): { out: Tensor; stats: RevinStats } {
    const [B, M, L] = xt.shape as [number, number, number];
    const stats = noGrad(() => {
      const mean = reshape(scale(sum(xt), 1 / L), [B, M, 1]);
      const xc = sub(xt, mean);
      const std = reshape(sqrt(affine(sum(mul(xc, xc)), 1 / L, this.eps)), [B, M, 1]);
      return { mean, std };
    });
    const z = div(sub(xt, stats.mean), stats.std);
    return { out: add(mul(z, reshape(this.weight.value, [M, 1])), reshape(this.bias.value, [M, 1])), stats };
  }

  /** y (B, M, H) on the normalised scale → the data's scale. */
  denorm(y: Tensor, s: RevinStats): Tensor {
    const M = this.nVars;
    const w = affine(reshape(this.weight.value, [M, 1]), 1, this.eps * this.eps);
    return add(mul(div(sub(y, reshape(this.bias.value, [M, 1])), w), s.std), s.mean);
  }
}
