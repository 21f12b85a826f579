/**
 * The Mamba block's mixer (Gu & Dao 2023, Fig. 3; HF `MambaMixer`, mamba_ssm `Mamba`):
 *
 *   x, z   = in_proj(h).chunk(2)                  (B, L, ED) each
 *   x      = silu(conv1d(x))                       depthwise causal conv over L
 *   δ, B, C = x_proj(x).split([R, N, N])           R = dt_rank (x_proj(1) when not selective)
 *   δ      = dt_proj.weight · δ                    (bias added inside the scan, before softplus)
 *   y      = S6(x, δ, A = -exp(A_log), B, C, D, z) (see ops/scan.ts)
 *   out    = out_proj(y)
 *
 * The recurrent state per sequence is the conv state (B, ED, K-1) and the SSM state (B, ED, N).
 */
import {
  add,
  exp,
  linear,
  mul,
  neg,
  reshape,
  selectiveScan,
  selectiveStateUpdate,
  softplus,
  split,
  writeSlice,
} from '../ops/index.js';
import { keep, tidy } from '../tensor/memory.js';
import { expectShape } from '../ops/check.js';
import { filled } from '../ops/random.js';
import type { DeviceName } from '../backend/registry.js';
import { isRecording } from '../autograd/tape.js';
import type { Tensor } from '../tensor/tensor.js';
import { CausalConv1d } from './conv.js';
import { Linear, RMSNorm } from './layers.js';
import { Module, type Parameter } from './module.js';

export interface MambaMixerDims {
  hiddenSize: number; // D (d_model)
  intermediateSize: number; // ED (d_inner)
  stateSize: number; // N
  convKernel: number; // K
  dtRank: number; // R
  useBias: boolean; // in_proj / out_proj bias
  useConvBias: boolean;
  /** false: Δ, B, C from x_proj of a constant (all ones) instead of x — the LTI ablation. */
  selective: boolean;
  /**
   * Jamba's mixer: RMSNorms (this eps) on Δ, B and C right after x_proj, before dt_proj and the
   * scan (children dt_layernorm, b_layernorm, c_layernorm). Absent: plain Mamba.
   */
  innerNormEps?: number;
}

/**
 * What the scan consumed for each token (the selection mechanism): its inputs, not recomputed
 * approximations of them. Where a token mask zeroes padding, padded positions hold B = C = 0 and
 * Δ = softplus(dt_proj.bias) (Jamba: softplus(dt_proj(dt_layernorm(0)) + bias)).
 */
export interface MixerSelection {
  /** Δ (B, L, ED) = softplus(dt_proj(δ) + dt_proj.bias): the step size in exp(Δ·A). */
  delta: Tensor;
  /** B (B, L, N): how the token is written into the state (after b_layernorm for Jamba). */
  B: Tensor;
  /** C (B, L, N): how the state is read out (after c_layernorm for Jamba). */
  C: Tensor;
}

/** Options of MambaMixer.forward. */
export interface MixerForwardOptions {
  /** Also return the selection tensors Δ, B, C of the parallel path (`selection`). */
  outputSelection?: boolean;
}

/** Per-layer recurrent state. */
export interface MixerState {
  conv: Tensor; // (B, ED, K-1)
  ssm: Tensor; // (B, ED, N)
}

export class MambaMixer extends Module {
  readonly in_proj: Linear;
  readonly conv1d: CausalConv1d;
  readonly x_proj: Linear;
  readonly dt_proj: Linear;
  readonly A_log: Parameter;
  readonly D: Parameter;
  readonly out_proj: Linear;
  /** Jamba only (dims.innerNormEps set): RMSNorms on Δ (rank R), B and C (N). */
  readonly innerNorms: { dt: RMSNorm; b: RMSNorm; c: RMSNorm } | null = null;

  private negA: { version: number; t: Tensor } | null = null;
  /** The ablation's constant selection inputs (ones of the input's shape), by device and shape. */
  private readonly ones = new Map<string, Tensor>();

  constructor(readonly dims: MambaMixerDims) {
    super();
    const { hiddenSize: H, intermediateSize: E, stateSize: N, convKernel: K, dtRank: R } = dims;
    this.in_proj = this.child('in_proj', new Linear(H, 2 * E, dims.useBias));
    this.conv1d = this.child('conv1d', new CausalConv1d(E, K, dims.useConvBias));
    this.x_proj = this.child('x_proj', new Linear(E, R + 2 * N, false));
    this.dt_proj = this.child('dt_proj', new Linear(R, E, true));
    this.A_log = this.param('A_log', [E, N]);
    this.D = this.param('D', [E]);
    this.out_proj = this.child('out_proj', new Linear(E, H, dims.useBias));
    if (dims.innerNormEps !== undefined) {
      const eps = dims.innerNormEps;
      this.innerNorms = {
        dt: this.child('dt_layernorm', new RMSNorm(R, eps)),
        b: this.child('b_layernorm', new RMSNorm(N, eps)),
        c: this.child('c_layernorm', new RMSNorm(N, eps)),
      };
    }
  }

  /** x_proj's output split into Δ (low rank), B, C — normed first for Jamba. */
  private selection(x: Tensor): [Tensor, Tensor, Tensor] {
    const { stateSize: N, dtRank: R } = this.dims;
    const [dt, B, C] = split(this.x_proj.forward(this.selectionInput(x)), [R, N, N]) as [Tensor, Tensor, Tensor];
    const n = this.innerNorms;
    return n ? [n.dt.forward(dt), n.b.forward(B), n.c.forward(C)] : [dt, B, C];
  }

  /**
   * h (B, L, H) → (B, L, H). With `state` (null at a sequence start) the new state is returned
   * too; a single token with a state takes the recurrent step path.
   *
   * `tokenMask` (B, L, 1), 1 = a real token, 0 = padding (left padding, HF's attention_mask):
   * the padded positions of the conv's input and of its output are zeroed, so padding adds
   * nothing to the conv state and Δ·B·x = 0 keeps the SSM state at zero through it (conv(0) is
   * the conv bias, hence the second zeroing). A single token with a mask (a padded prompt fed one
   * position at a time) takes the parallel path, which applies it; the recurrent step does not.
   *
   * `outputSelection` adds the selection tensors (`selection`) and always takes the parallel path.
   */
  forward(
    h: Tensor,
    state?: MixerState | null,
    tokenMask?: Tensor,
    o: MixerForwardOptions = {},
  ): { out: Tensor; state?: MixerState; selection?: MixerSelection } {
    const L = h.shape[1]!;
    if (tokenMask) expectShape('MambaMixer', 'tokenMask (B, L, 1)', tokenMask, [h.shape[0]!, L, 1]);
    if (state && L === 1 && !tokenMask && !o.outputSelection) return this.step(h, state);
    return tidy(() => {
      const { intermediateSize: E } = this.dims;
      const [xz, z] = split(this.in_proj.forward(h), [E, E]); // (B, L, ED) each
      const x0 = tokenMask ? mul(xz!, tokenMask) : xz!;
      const conv = this.conv1d.forward(x0, state?.conv ?? null, true);
      const x = tokenMask ? mul(conv.out, tokenMask) : conv.out; // (B, L, ED)
      const [dtLow, B, C] = this.selection(x); // (B, L, R), (B, L, N) ×2
      const delta = linear(dtLow, this.dt_proj.weight.value); // (B, L, ED), no bias
      const A = this.A(); // (ED, N)
      const scan = selectiveScan(x, delta, A, B, C, {
        D: this.D.value,
        z: z!,
        deltaBias: this.dt_proj.bias!.value,
        deltaSoftplus: true,
        initialState: state?.ssm ?? null,
      });
      const out = this.out_proj.forward(scan.out); // (B, L, H)
      // Δ as the scan forms it from delta and deltaBias (softplus(δ + bias)); only on request,
      // as it is a (B, L, ED) tensor of its own.
      const selection = o.outputSelection ? { delta: softplus(add(delta, this.dt_proj.bias!.value)), B, C } : undefined;
      return {
        out,
        ...(state === undefined ? {} : { state: { conv: conv.state, ssm: scan.lastState } }),
        ...(selection ? { selection } : {}),
      };
    });
  }

  /**
   * What Δ, B and C are computed from: the input (S6), or, for the ablation without selection,
   * ones of its shape — then they are the same at every position, whatever the input.
   */
  private selectionInput(x: Tensor): Tensor {
    if (this.dims.selective) return x;
    // Kept per shape and device (a few: training and its evaluations use different shapes): made
    // anew, the ones would be a host upload in every forward, which a recorded training step must not do.
    const key = `${x.device}:${x.shape.join(',')}`;
    let t = this.ones.get(key);
    if (!t) {
      if (this.ones.size >= 4) {
        const [oldest, old] = this.ones.entries().next().value as [string, Tensor];
        old.dispose();
        this.ones.delete(oldest);
      }
      t = keep(filled(x.shape, 1, { device: x.device as DeviceName }));
      this.ones.set(key, t);
    }
    return t;
  }

  /**
   * A = -exp(A_log), recomputed only when A_log changes — except while training, where it must be
   * part of each step's graph so that A_log's gradient flows.
   */
  A(): Tensor {
    if (this.A_log.requiresGrad && isRecording()) return neg(exp(this.A_log.value));
    if (!this.negA || this.negA.version !== this.A_log.version) {
      this.negA?.t.dispose();
      this.negA = { version: this.A_log.version, t: keep(tidy(() => neg(exp(this.A_log.value)))) };
    }
    return this.negA.t;
  }

  override dispose(): void {
    this.negA?.t.dispose();
    this.negA = null;
    for (const t of this.ones.values()) t.dispose();
    this.ones.clear();
    super.dispose();
  }

  /**
   * One token through the recurrence: h (B, 1, H). `inPlace`: the new state is written over
   * `state`'s own buffers, which are returned as it (a replayed decode step keeps them fixed).
   */
  step(h: Tensor, state: MixerState, inPlace = false): { out: Tensor; state: MixerState } {
    return tidy(() => {
      const { intermediateSize: E } = this.dims;
      const Bsz = h.shape[0]!;
      const xz = this.in_proj.forward(reshape(h, [Bsz, h.shape[2]!])); // (B, 2ED)
      const [x0, z] = split(xz, [E, E]); // (B, ED)
      const conv = this.conv1d.step(x0!, state.conv, true);
      const [dtLow, B, C] = this.selection(conv.out);
      const dt = linear(dtLow, this.dt_proj.weight.value); // (B, ED)
      const A = this.A();
      const upd = selectiveStateUpdate(state.ssm, conv.out, dt, A, B, C, {
        D: this.D.value,
        z: z!,
        dtBias: this.dt_proj.bias!.value,
        dtSoftplus: true,
        inPlace,
      });
      const out = reshape(this.out_proj.forward(upd.out), [Bsz, 1, h.shape[2]!]);
      if (!inPlace) return { out, state: { conv: conv.state, ssm: upd.state } };
      writeSlice(state.conv, conv.state, 0, 0); // (B, ED, K-1): small
      return { out, state };
    });
  }
}

