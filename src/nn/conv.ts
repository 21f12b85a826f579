/** Depthwise causal Conv1d, stored as PyTorch's nn.Conv1d(D, D, K, groups=D): weight (D, 1, K). */
import { causalConv1d, causalConv1dUpdate, reshape } from '../ops/index.js';
import { tidy } from '../tensor/memory.js';
import type { Tensor } from '../tensor/tensor.js';
import { Module, type Parameter } from './module.js';

export class CausalConv1d extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  constructor(
    readonly channels: number,
    readonly kernelSize: number,
    useBias = true,
  ) {
    super();
    this.weight = this.param('weight', [channels, 1, kernelSize]);
    this.bias = useBias ? this.param('bias', [channels]) : null;
  }

  /** x (B, L, D), state (B, D, K-1) | null → out (B, L, D), new state; silu applied when asked. */
  forward(x: Tensor, state: Tensor | null, silu: boolean): { out: Tensor; state: Tensor } {
    return tidy(() => causalConv1d(x, this.w(), this.bias?.value ?? null, { silu, state }));
  }

  /** One token: x (B, D). */
  step(x: Tensor, state: Tensor, silu: boolean): { out: Tensor; state: Tensor } {
    return tidy(() => causalConv1dUpdate(x, state, this.w(), this.bias?.value ?? null, { silu }));
  }

  private w(): Tensor {
    return reshape(this.weight.value, [this.channels, this.kernelSize]);
  }
}
