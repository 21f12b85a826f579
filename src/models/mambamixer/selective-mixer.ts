/**
 * The MambaMixer's selective mixer (v1 §3.1–3.2, Figs. 6–7): one shared input projection, one
 * conv + S6 branch per scan order, the scans' outputs put back in sequence order and summed, one
 * shared SiLU gate, one output projection:
 *
 *   xs, z = in_proj(x).chunk(2)                          (B, T, E) each, E = expand·D
 *   y     = Σ_k unscan_k( branch_k( scan_k(xs) ) )       (B, T, E)
 *   out   = out_proj(y · silu(z))                        (B, T, D)
 *
 * With the single forward scan this is exactly a Mamba block (the unidirectional token mixer); with
 * forward + backward it is the bidirectional mixer of the channel mixer (Vim's "bimamba v2"). Other
 * scan orders (ViM2's cross-scans) plug in through `ScanOrder`.
 */
import { flip, mul, silu, split, add } from '../../ops/index.js';
import { ArgumentError } from '../../errors.js';
import { tidy } from '../../tensor/memory.js';
import type { Tensor } from '../../tensor/tensor.js';
import { Linear } from '../../nn/layers.js';
import { Module } from '../../nn/module.js';
import { SelectiveScanBranch } from './scan-branch.js';

/**
 * An order in which a branch reads the sequence (B, T, E): `toScan` reorders the positions,
 * `fromScan` puts the branch's output (B, T, E) back in the original order. Both must keep shapes.
 */
export interface ScanOrder {
  readonly name: string;
  toScan(x: Tensor): Tensor;
  fromScan(y: Tensor): Tensor;
}

/** Positions 0, 1, …, T-1: the causal scan. */
export const FORWARD_SCAN: ScanOrder = { name: 'forward', toScan: (x) => x, fromScan: (y) => y };
/** Positions T-1, …, 0 (the paper's Flip, Eqs. 14–18). */
export const BACKWARD_SCAN: ScanOrder = { name: 'backward', toScan: (x) => flip(x, 1), fromScan: (y) => flip(y, 1) };

export interface SelectiveMixerOptions {
  /** D: features per sequence position (the input's and output's last axis). */
  dModel: number;
  /** N: SSM state size (default 16). */
  dState?: number;
  /** K: causal conv width (default 4). */
  dConv?: number;
  /** E = expand · D (default 2). */
  expand?: number;
  /** R: Δ's rank (default ceil(D / 16), mamba_ssm's "auto"). */
  dtRank?: number;
  /** The scan orders, one branch each (default: [FORWARD_SCAN]). */
  scans?: readonly ScanOrder[];
  /** Biases on in_proj / out_proj (default false, as Mamba). */
  bias?: boolean;
  /** Bias on the convs (default true, as Mamba). */
  convBias?: boolean;
}

/** The options with every default filled in. */
export type SelectiveMixerDims = Required<Omit<SelectiveMixerOptions, 'scans'>> & { innerSize: number };

export function selectiveMixerDims(o: SelectiveMixerOptions, who = 'SelectiveMixer'): SelectiveMixerDims {
  const dims = {
    dModel: o.dModel,
    dState: o.dState ?? 16,
    dConv: o.dConv ?? 4,
    expand: o.expand ?? 2,
    dtRank: o.dtRank ?? Math.ceil(o.dModel / 16),
    bias: o.bias ?? false,
    convBias: o.convBias ?? true,
  };
  for (const k of ['dModel', 'dState', 'dConv', 'expand', 'dtRank'] as const) {
    // dConv 0: branches without a causal conv (a subclass convolves in mixInput, as ViM2's 2-D conv).
    if (!Number.isInteger(dims[k]) || dims[k] < (k === 'dConv' ? 0 : 1)) throw new ArgumentError(`${who}: option ${k} must be an integer >= ${k === 'dConv' ? 0 : 1}, got ${dims[k]}`);
  }
  return { ...dims, innerSize: dims.expand * dims.dModel };
}

export class SelectiveMixer extends Module {
  readonly dims: SelectiveMixerDims;
  readonly scans: readonly ScanOrder[];
  readonly in_proj: Linear;
  /** One conv + S6 per scan order; parameters `branches.<k>.{conv1d,x_proj,dt_proj,A_log,D}`. */
  readonly branches: SelectiveScanBranch[];
  readonly out_proj: Linear;

  constructor(o: SelectiveMixerOptions, who = 'SelectiveMixer') {
    super();
    this.dims = selectiveMixerDims(o, who);
    this.scans = o.scans ?? [FORWARD_SCAN];
    if (this.scans.length === 0) throw new ArgumentError(`${who}: option scans must name at least one scan order`);
    const { dModel: D, innerSize: E } = this.dims;
    this.in_proj = this.child('in_proj', new Linear(D, 2 * E, this.dims.bias));
    const branchDims = { innerSize: E, stateSize: this.dims.dState, convKernel: this.dims.dConv, dtRank: this.dims.dtRank, useConvBias: this.dims.convBias };
    this.branches = this.childList('branches', this.scans.map(() => new SelectiveScanBranch(branchDims)));
    this.out_proj = this.child('out_proj', new Linear(E, D, this.dims.bias));
  }

  /** What the branches read, from in_proj's first half (B, T, E): itself here; ViM2's token mixer convolves it in 2-D. */
  protected mixInput(xs: Tensor): Tensor {
    return xs;
  }

  /** x (B, T, D) → (B, T, D), mixing along T. */
  forward(x: Tensor): Tensor {
    if (x.rank !== 3 || x.shape[2] !== this.dims.dModel) {
      throw new ArgumentError(`SelectiveMixer: input must be (B, T, ${this.dims.dModel}), got [${x.shape.join(', ')}]`);
    }
    return tidy(() => {
      const E = this.dims.innerSize;
      const [x0, z] = split(this.in_proj.forward(x), [E, E]) as [Tensor, Tensor]; // (B, T, E) each
      const xs = this.mixInput(x0);
      let gated: Tensor;
      if (this.scans.length === 1 && this.scans[0] === FORWARD_SCAN) {
        gated = this.branches[0]!.forward(xs, z); // the gate fused into the scan
      } else {
        let y: Tensor | null = null;
        this.scans.forEach((s, k) => {
          const yk = s.fromScan(this.branches[k]!.forward(s.toScan(xs)));
          y = y ? add(y, yk) : yk;
        });
        gated = mul(y!, silu(z));
      }
      return this.out_proj.forward(gated);
    });
  }
}
