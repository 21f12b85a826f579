/**
 * One scan direction of a MambaMixer block (v1 Fig. 6/7): a depthwise causal conv, SiLU, and an S6
 * whose Δ, B and C are selected from the conv's output (as in mamba_ssm; the paper's Eqs. 8–10 write
 * them from the block input, a notational shortcut — see docs/mambamixer.md):
 *
 *   u       = silu(conv1d(xs))                      (B, T, E)
 *   δ, B, C = x_proj(u).split([R, N, N])            (B, T, R), (B, T, N) ×2
 *   y       = S6(u, dt_proj.weight·δ, A = -exp(A_log), B, C, D) [· silu(z) when a gate is given]
 *
 * No projections in or out: the mixer around it owns those, so several branches (forward, backward,
 * cross-scans) can share one in_proj, one gate and one out_proj.
 */
import { exp, linear, neg, selectiveScan, split } from '../../ops/index.js';
import { tidy } from '../../tensor/memory.js';
import type { Tensor } from '../../tensor/tensor.js';
import { CausalConv1d } from '../../nn/conv.js';
import { Linear } from '../../nn/layers.js';
import { Module, type Parameter } from '../../nn/module.js';

export interface ScanBranchDims {
  /** E: channels of the sequence the branch scans. */
  innerSize: number;
  /** N: SSM state size per channel. */
  stateSize: number;
  /** K: causal conv width; 0 = no conv, the input is already convolved and activated (ViM2's 2-D conv). */
  convKernel: number;
  /** R: rank of Δ's projection. */
  dtRank: number;
  useConvBias: boolean;
}

export class SelectiveScanBranch extends Module {
  readonly conv1d: CausalConv1d | null;
  readonly x_proj: Linear;
  readonly dt_proj: Linear;
  readonly A_log: Parameter;
  readonly D: Parameter;

  constructor(readonly dims: ScanBranchDims) {
    super();
    const { innerSize: E, stateSize: N, convKernel: K, dtRank: R } = dims;
    this.conv1d = K > 0 ? this.child('conv1d', new CausalConv1d(E, K, dims.useConvBias)) : null;
    this.x_proj = this.child('x_proj', new Linear(E, R + 2 * N, false));
    this.dt_proj = this.child('dt_proj', new Linear(R, E, true));
    this.A_log = this.param('A_log', [E, N]);
    this.D = this.param('D', [E]);
  }

  /** xs (B, T, E) in scan order → y (B, T, E); with `gate` (B, T, E) the output is y · silu(gate). */
  forward(xs: Tensor, gate: Tensor | null = null): Tensor {
    return tidy(() => {
      const { stateSize: N, dtRank: R } = this.dims;
      const u = this.conv1d ? this.conv1d.forward(xs, null, true).out : xs; // (B, T, E)
      const [dtLow, B, C] = split(this.x_proj.forward(u), [R, N, N]) as [Tensor, Tensor, Tensor];
      const delta = linear(dtLow, this.dt_proj.weight.value); // (B, T, E); bias added in the scan
      const A = neg(exp(this.A_log.value)); // (E, N)
      return selectiveScan(u, delta, A, B, C, {
        D: this.D.value,
        z: gate,
        deltaBias: this.dt_proj.bias!.value,
        deltaSoftplus: true,
      }).out;
    });
  }
}
