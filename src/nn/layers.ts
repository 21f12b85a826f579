/** The small layers, named as in PyTorch so their parameters carry PyTorch's names. */
import { embedding, linear, rmsNorm } from '../ops/index.js';
import type { Tensor } from '../tensor/tensor.js';
import { Module, type Parameter } from './module.js';

/** y = x·Wᵀ + b, weight (out, in). */
export class Linear extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    useBias = true,
  ) {
    super();
    this.weight = this.param('weight', [outFeatures, inFeatures], true);
    this.bias = useBias ? this.param('bias', [outFeatures]) : null;
  }
  forward(x: Tensor): Tensor {
    return linear(x, this.weight.value, this.bias?.value ?? null);
  }
}

export class Embedding extends Module {
  readonly weight: Parameter;
  constructor(
    readonly numEmbeddings: number,
    readonly dim: number,
  ) {
    super();
    this.weight = this.param('weight', [numEmbeddings, dim], true);
  }
  /** ids must already be checked against numEmbeddings (models do this on the plain numbers). */
  forward(ids: Tensor): Tensor {
    return embedding(ids, this.weight.value, true);
  }
}

export class RMSNorm extends Module {
  readonly weight: Parameter;
  constructor(
    readonly dim: number,
    readonly eps = 1e-6,
  ) {
    super();
    this.weight = this.param('weight', [dim]);
  }
  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.weight.value, this.eps);
  }
}
