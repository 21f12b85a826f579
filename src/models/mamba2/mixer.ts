/**
 * The Mamba-2 mixer (HF `Mamba2Mixer`, mamba_ssm `Mamba2`), with HF's parameter names:
 *
 *   z, xBC, dt = in_proj(h).split([E, E + 2·G·N, H])
 *   xBC        = silu(conv1d(xBC))                     depthwise causal conv over L
 *   x, B, C    = xBC.split([E, G·N, G·N])
 *   dt         = clamp(softplus(dt + dt_bias), time_step_limit)
 *   y          = SSD(x, dt, A = −exp(A_log), B, C, D)  (ops/ssd.ts; per head a scalar decay)
 *   out        = out_proj(norm(y · silu(z)))           the gated RMSNorm
 *
 * The recurrent state per sequence is the conv state (B, E + 2·G·N, K−1) and the SSM state
 * (B, H, P, N).
 */
import type { DeviceName } from '../../backend/registry.js';
import { UnsupportedError } from '../../errors.js';
import { CausalConv1d } from '../../nn/conv.js';
import { Linear } from '../../nn/layers.js';
import { Module, type Parameter } from '../../nn/module.js';
import { expectShape } from '../../ops/check.js';
import {
  add,
  exp,
  maximum,
  minimum,
  mul,
  neg,
  reshape,
  rmsNorm,
  scalar,
  silu,
  softplus,
  split,
  ssdChunked,
  ssdStep,
  writeSlice,
} from '../../ops/index.js';
import { filled } from '../../ops/random.js';
import { keep, tidy } from '../../tensor/memory.js';
import type { Tensor } from '../../tensor/tensor.js';
import { isRecording } from '../../autograd/tape.js';
import type { Mamba2Config } from './config.js';

/** Per-layer recurrent state. */
export interface Mamba2State {
  conv: Tensor; // (B, E + 2·G·N, K−1)
  ssm: Tensor; // (B, H, P, N)
}

/**
 * HF's `MambaRMSNormGated` with mamba_ssm's grouping: norm(x · silu(z)) · weight, the RMS taken over
 * groups of E / n_groups channels (mamba_ssm's RMSNormGated(group_size = d_ssm / ngroups); at
 * n_groups = 1 — every released Mamba-2 LM — it is HF's norm over all E).
 */
export class GatedRMSNorm extends Module {
  readonly weight: Parameter;
  constructor(
    readonly dim: number,
    readonly groups: number,
    readonly eps: number,
  ) {
    super();
    this.weight = this.param('weight', [dim]);
  }

  /** Ones of a group's size (the per-group norm's unit weight), made once: a decode step uploads nothing. */
  private ones: Tensor | null = null;

  forward(x: Tensor, gate: Tensor): Tensor {
    return tidy(() => {
      const gated = mul(x, silu(gate));
      if (this.groups === 1) return rmsNorm(gated, this.weight.value, this.eps);
      const size = this.dim / this.groups;
      const lead = gated.shape.slice(0, -1);
      if (this.ones?.device !== gated.device) {
        this.ones?.dispose();
        this.ones = keep(filled([size], 1, { device: gated.device as DeviceName }));
      }
      const normed = reshape(rmsNorm(reshape(gated, [...lead, this.groups, size]), this.ones, this.eps), gated.shape);
      return mul(normed, this.weight.value);
    });
  }

  override dispose(): void {
    this.ones?.dispose();
    this.ones = null;
    super.dispose();
  }
}

export class Mamba2Mixer extends Module {
  readonly in_proj: Linear;
  readonly conv1d: CausalConv1d;
  readonly dt_bias: Parameter;
  readonly A_log: Parameter;
  readonly D: Parameter;
  readonly norm: GatedRMSNorm;
  readonly out_proj: Linear;

  constructor(readonly config: Mamba2Config) {
    super();
    const f = config.fields;
    const E = config.intermediateSize;
    this.in_proj = this.child('in_proj', new Linear(f.hidden_size, config.projectionSize, f.use_bias));
    this.conv1d = this.child('conv1d', new CausalConv1d(config.convDim, f.conv_kernel, f.use_conv_bias));
    this.dt_bias = this.param('dt_bias', [f.num_heads]);
    this.A_log = this.param('A_log', [f.num_heads]);
    this.D = this.param('D', [f.num_heads]);
    this.norm = this.child('norm', new GatedRMSNorm(E, f.n_groups, f.layer_norm_epsilon));
    this.out_proj = this.child('out_proj', new Linear(E, f.hidden_size, f.use_bias));
  }

  /** time_step_limit's bounds as device scalars, made once (a decode step uploads nothing). */
  private limits: { lo: Tensor; hi: Tensor } | null = null;

  /** A = −exp(A_log), one per head. */
  A(): Tensor {
    return neg(exp(this.A_log.value));
  }

  /** softplus(dt + dt_bias), clamped to time_step_limit where that limit clamps anything. */
  private dt(raw: Tensor): Tensor {
    const [lo, hi] = this.config.fields.time_step_limit;
    let dt = softplus(add(raw, this.dt_bias.value));
    if (lo > 0 || Number.isFinite(hi)) {
      // min/max have no backward rule: a clamped dt trains only where nothing is clamped (HF's default (0, ∞)).
      if (isRecording() && this.dt_bias.requiresGrad) {
        throw new UnsupportedError('Mamba2Mixer: training with a time_step_limit other than (0, ∞) is not supported yet');
      }
      const device = dt.device as DeviceName;
      if (this.limits?.lo.device !== device) {
        this.disposeLimits();
        this.limits = { lo: keep(scalar(lo, { device })), hi: keep(scalar(Number.isFinite(hi) ? hi : 0, { device })) };
      }
      if (lo > 0) dt = maximum(dt, this.limits.lo);
      if (Number.isFinite(hi)) dt = minimum(dt, this.limits.hi);
    }
    return dt;
  }

  private disposeLimits(): void {
    this.limits?.lo.dispose();
    this.limits?.hi.dispose();
    this.limits = null;
  }

  override dispose(): void {
    this.disposeLimits();
    super.dispose();
  }

  /**
   * h (B, L, D) → (B, L, D). With `state` (null at a sequence start) the new state is returned
   * too; a single token with a state takes the recurrent step.
   *
   * `tokenMask` (B, L, 1), 1 = a real token, 0 = padding (left padding, HF's attention_mask): as
   * HF, the mixer's input and the conv's output are zeroed at padding, so x = B = C = 0 there and
   * the SSM state stays zero through it.
   */
  forward(h: Tensor, state?: Mamba2State | null, tokenMask?: Tensor): { out: Tensor; state?: Mamba2State } {
    const [Bsz, L] = h.shape as [number, number, number];
    if (tokenMask) expectShape('Mamba2Mixer', 'tokenMask (B, L, 1)', tokenMask, [Bsz, L, 1]);
    if (state && L === 1 && !tokenMask) return this.step(h, state);
    return tidy(() => {
      const f = this.config.fields;
      const E = this.config.intermediateSize;
      const GN = f.n_groups * f.state_size;
      const input = tokenMask ? mul(h, tokenMask) : h;
      const [z, xBC, dtRaw] = split(this.in_proj.forward(input), [E, this.config.convDim, f.num_heads]) as [Tensor, Tensor, Tensor];
      const conv = this.conv1d.forward(xBC, state?.conv ?? null, true);
      const convOut = tokenMask ? mul(conv.out, tokenMask) : conv.out;
      const [x, B, C] = split(convOut, [E, GN, GN]) as [Tensor, Tensor, Tensor];
      const ssd = ssdChunked(
        reshape(x, [Bsz, L, f.num_heads, f.head_dim]),
        this.dt(dtRaw),
        this.A(),
        reshape(B, [Bsz, L, f.n_groups, f.state_size]),
        reshape(C, [Bsz, L, f.n_groups, f.state_size]),
        f.chunk_size,
        { D: this.D.value, initialState: state?.ssm ?? null },
      );
      const y = reshape(ssd.out, [Bsz, L, E]);
      const out = this.out_proj.forward(this.norm.forward(y, z));
      return state === undefined ? { out } : { out, state: { conv: conv.state, ssm: ssd.lastState } };
    });
  }

  /**
   * One token through the recurrence: h (B, 1, D). `inPlace`: the new state is written over
   * `state`'s own buffers, which are returned as it (a replayed decode step keeps them fixed).
   */
  step(h: Tensor, state: Mamba2State, inPlace = false): { out: Tensor; state: Mamba2State } {
    return tidy(() => {
      const f = this.config.fields;
      const E = this.config.intermediateSize;
      const GN = f.n_groups * f.state_size;
      const [Bsz, , Dm] = h.shape as [number, number, number];
      const [z, xBC, dtRaw] = split(this.in_proj.forward(reshape(h, [Bsz, Dm])), [E, this.config.convDim, f.num_heads]) as [Tensor, Tensor, Tensor];
      const conv = this.conv1d.step(xBC, state.conv, true);
      const [x, B, C] = split(conv.out, [E, GN, GN]) as [Tensor, Tensor, Tensor];
      const r = ssdStep(
        state.ssm,
        reshape(x, [Bsz, f.num_heads, f.head_dim]),
        this.dt(dtRaw),
        this.A(),
        reshape(B, [Bsz, f.n_groups, f.state_size]),
        reshape(C, [Bsz, f.n_groups, f.state_size]),
        this.D.value,
      );
      const y = this.norm.forward(reshape(r.out, [Bsz, E]), z);
      const out = reshape(this.out_proj.forward(y), [Bsz, 1, Dm]);
      if (!inPlace) return { out, state: { conv: conv.state, ssm: r.state } };
      writeSlice(state.conv, conv.state, 0, 0);
      writeSlice(state.ssm, r.state, 0, 0);
      return { out, state };
    });
  }
}
