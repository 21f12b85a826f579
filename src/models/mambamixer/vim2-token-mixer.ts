/**
 * ViM2's Selective Token Mixer (v1 §4.1, Table 8; VMamba's SS2D): the shared in_proj, then a
 * depthwise 3×3 conv on the 2-D token grid and SiLU (instead of each branch's causal 1-D conv),
 * then four S6 branches over the cross-scans (cross-scan.ts), summed, gated by SiLU(z), out_proj:
 *
 *   xs, z = in_proj(x).chunk(2)                               (B, H·W, E) each
 *   u     = silu(dwconv3×3(xs as (B, H, W, E)))               (B, H·W, E)
 *   y     = Σ_k unscan_k(S6_k(scan_k(u)))  ·  silu(z)
 *   out   = out_proj(y)                                        (B, H·W, C)
 *
 * Parameters: in_proj, conv2d (PyTorch's Conv2d(E, E, K, groups=E): weight (E, 1, K, K), bias),
 * branches.<k>.{x_proj, dt_proj, A_log, D}, out_proj.
 */
import { depthwiseConv2d, reshape, silu } from '../../ops/index.js';
import type { Tensor } from '../../tensor/tensor.js';
import { Module, type Parameter } from '../../nn/module.js';
import { crossScans } from './cross-scan.js';
import { SelectiveMixer, type SelectiveMixerOptions } from './selective-mixer.js';

/** Depthwise K×K conv with 'same' padding over channels-last (B, H, W, C). */
export class DepthwiseConv2d extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  constructor(
    readonly channels: number,
    readonly kernelSize: number,
    useBias = true,
  ) {
    super();
    this.weight = this.param('weight', [channels, 1, kernelSize, kernelSize]);
    this.bias = useBias ? this.param('bias', [channels]) : null;
  }
  forward(x: Tensor): Tensor {
    const w = reshape(this.weight.value, [this.channels, this.kernelSize, this.kernelSize]);
    return depthwiseConv2d(x, w, this.bias?.value ?? null);
  }
}

export interface CrossScanTokenMixerOptions extends Omit<SelectiveMixerOptions, 'scans' | 'dConv'> {
  /** The token grid: the input is (B, height·width, dModel), row-major. */
  height: number;
  width: number;
  /** The 2-D conv's kernel (3). */
  convKernel?: number;
}

export class CrossScanTokenMixer extends SelectiveMixer {
  readonly conv2d: DepthwiseConv2d;
  constructor(readonly o: CrossScanTokenMixerOptions) {
    super({ ...o, dConv: 0, scans: crossScans(o.height, o.width) }, 'CrossScanTokenMixer');
    this.conv2d = this.child('conv2d', new DepthwiseConv2d(this.dims.innerSize, o.convKernel ?? 3, this.dims.convBias));
  }

  protected override mixInput(xs: Tensor): Tensor {
    const [B, L, E] = xs.shape as [number, number, number];
    const grid = reshape(xs, [B, this.o.height, this.o.width, E]);
    return reshape(silu(this.conv2d.forward(grid)), [B, L, E]);
  }
}
