/**
 * TSM2, the time-series MambaMixer (v1 §5, Fig. 3), in the "patch-token" reading of
 * shared/reference/mambamixer.md §2.2 (B) — docs/tsm2.md lists every choice:
 *
 *   x (B, L, M) → (B, M, L) → RevIN → patches of each variate (B·M, N, P) → Linear(P→d) + pos
 *   z (B, M, N, d); for ℓ = 1..𝓛, with the weighted averages of Eqs. 19–20:
 *     time block:    y = z + TimeMixer(Norm2D(z))       unidirectional Mamba over the N patches of
 *                                                       each variate, all B·M series in one call
 *     variate block: y = z + VariateMixer(Norm2D(z))    bidirectional over the M variates of each
 *                                                       patch, all B·N sequences in one call
 *   head: flatten (N·d) → Linear → H per variate → RevIN⁻¹ → (B, H, M)
 *
 * Norm2D is a LayerNorm over each variate's whole (N, d) plane (TSMixer's norm over time × feature).
 */
import { ArgumentError } from '../../../errors.js';
import type { DeviceName } from '../../../backend/registry.js';
import { Linear } from '../../../nn/layers.js';
import { LayerNorm } from '../../../nn/layer-norm.js';
import { Module, type Parameter } from '../../../nn/module.js';
import { add, matmul, reshape, tensor, transpose } from '../../../ops/index.js';
import { filled, RandomSource, randomUniform } from '../../../ops/random.js';
import { keep, tidy } from '../../../tensor/memory.js';
import type { Tensor } from '../../../tensor/tensor.js';
import type { Forecaster } from '../../../timeseries/forecaster.js';
import { SelectiveChannelMixer } from '../channel-mixer.js';
import { initLinear, initSelectiveMixer } from '../init.js';
import { SelectiveTokenMixer } from '../token-mixer.js';
import { DenseMixerAverages, type DenseMixerTrace } from '../weighted-average.js';
import { patchCount, type TSM2Config } from './config.js';
import { RevIN } from './revin.js';

/** (L, N·P) 0/1 matrix: x (…, L) · U = the N patches of length P, stride S, laid end to end. */
export function unfoldMatrix(L: number, P: number, S: number, N: number): Float32Array {
  const u = new Float32Array(L * N * P);
  for (let n = 0; n < N; n++) for (let p = 0; p < P; p++) u[(n * S + p) * N * P + n * P + p] = 1;
  return u;
}

export class TSM2Layer extends Module {
  readonly time_norm: LayerNorm;
  readonly time_mixer: SelectiveTokenMixer;
  readonly variate_norm: LayerNorm;
  readonly variate_mixer: SelectiveChannelMixer;
  constructor(readonly c: TSM2Config, readonly N: number) {
    super();
    const o = { dState: c.d_state, dConv: c.d_conv, expand: c.expand };
    this.time_norm = this.child('time_norm', new LayerNorm(N * c.d_model, c.norm_eps));
    this.time_mixer = this.child('time_mixer', new SelectiveTokenMixer({ dModel: c.d_model, ...o }));
    this.variate_norm = this.child('variate_norm', new LayerNorm(N * c.d_model, c.norm_eps));
    this.variate_mixer = this.child('variate_mixer', new SelectiveChannelMixer({ tokens: c.d_model, ...o }));
  }

  private norm2d(norm: LayerNorm, z: Tensor): Tensor {
    const [B, M, N, d] = z.shape as [number, number, number, number];
    return reshape(norm.forward(reshape(z, [B * M, N * d])), [B, M, N, d]);
  }

  /** z (B, M, N, d) → z + TimeMixer(Norm2D(z)): each variate's N patches are one sequence. */
  timeBlock(z: Tensor): Tensor {
    return tidy(() => {
      const [B, M, N, d] = z.shape as [number, number, number, number];
      const y = this.time_mixer.forward(reshape(this.norm2d(this.time_norm, z), [B * M, N, d]));
      return add(z, reshape(y, [B, M, N, d]));
    });
  }

  /** z (B, M, N, d) → z + VariateMixer(Norm2D(z)): each patch's M variates are one sequence. */
  variateBlock(z: Tensor): Tensor {
    return tidy(() => {
      const [B, M, N, d] = z.shape as [number, number, number, number];
      const zt = reshape(transpose(this.norm2d(this.variate_norm, z), [0, 2, 1, 3]), [B * N, M, d]);
      const y = this.variate_mixer.forwardChannelsFirst(zt); // (B·N, M, d)
      return add(z, transpose(reshape(y, [B, N, M, d]), [0, 2, 1, 3]));
    });
  }
}

export class TSM2 extends Module implements Forecaster {
  readonly N: number;
  readonly revin: RevIN | null;
  readonly patch_embed: Linear;
  readonly pos_embed: Parameter;
  readonly layers: TSM2Layer[];
  readonly averages: DenseMixerAverages;
  readonly head: Linear;
  private unfold: Tensor | null = null;

  constructor(
    readonly config: TSM2Config,
    readonly device: DeviceName = 'cpu',
  ) {
    super();
    const c = config;
    this.N = patchCount(c);
    this.revin = c.revin ? this.child('revin', new RevIN(c.n_vars)) : null;
    this.patch_embed = this.child('patch_embed', new Linear(c.patch_len, c.d_model));
    this.pos_embed = this.param('pos_embed', [this.N, c.d_model]);
    this.layers = this.childList('layers', Array.from({ length: c.n_layers }, () => new TSM2Layer(c, this.N)));
    this.averages = this.child('averages', new DenseMixerAverages(c.n_layers));
    this.head = this.child('head', new Linear(this.N * c.d_model, c.horizon));
  }

  initWeights(seed: number): void {
    const rng = new RandomSource(seed);
    const o = { device: this.device };
    const c = this.config;
    if (this.revin) {
      this.revin.weight.set(filled([c.n_vars], 1, o));
      this.revin.bias.set(filled([c.n_vars], 0, o));
    }
    initLinear(this.patch_embed, rng, this.device);
    this.pos_embed.set(randomUniform(this.pos_embed.shape, -0.02, 0.02, rng, o)); // PatchTST's learned positions
    for (const l of this.layers) {
      for (const n of [l.time_norm, l.variate_norm]) {
        n.weight.set(filled(n.weight.shape, 1, o));
        n.bias.set(filled(n.bias.shape, 0, o));
      }
      for (const m of [l.time_mixer, l.variate_mixer]) initSelectiveMixer(m, rng, { device: this.device, outScale: 1 / Math.sqrt(2 * c.n_layers) });
    }
    this.averages.initIdentity(this.device);
    initLinear(this.head, rng, this.device);
  }

  forward(x: Tensor): Tensor {
    return this.run(x).out;
  }

  /** The forecast and every block's output y (B, M, N, d) (y_Token^(0) = y_Channel^(0) = the embedded patches). */
  run(x: Tensor): { out: Tensor; trace: DenseMixerTrace } {
    const { lookback: L, n_vars: M, patch_len: P, patch_stride: S, d_model: d, horizon: H } = this.config;
    const N = this.N;
    if (x.rank !== 3 || x.shape[1] !== L || x.shape[2] !== M) {
      throw new ArgumentError(`TSM2: input must be (B, L=${L}, M=${M}), got [${x.shape.join(', ')}]`);
    }
    this.unfold ??= keep(tensor(unfoldMatrix(L, P, S, N), [L, N * P], { device: this.device }));
    const unfold = this.unfold;
    return tidy(() => {
      const B = x.shape[0]!;
      let xt = transpose(x, [0, 2, 1]); // (B, M, L)
      const rev = this.revin?.norm(xt) ?? null;
      if (rev) xt = rev.out;
      const patches = reshape(matmul(reshape(xt, [B * M, L]), unfold), [B * M, N, P]);
      const z0 = reshape(add(this.patch_embed.forward(patches), this.pos_embed.value), [B, M, N, d]);
      const { out: zL, trace } = this.averages.run(z0, (l, z) => this.layers[l]!.timeBlock(z), (l, z) => this.layers[l]!.variateBlock(z));
      let y = reshape(this.head.forward(reshape(zL, [B * M, N * d])), [B, M, H]);
      if (rev) y = this.revin!.denorm(y, rev.stats);
      return { out: transpose(y, [0, 2, 1]), trace }; // (B, H, M)
    });
  }

  toJSON(): Record<string, unknown> {
    return { ...this.config };
  }

  override dispose(): void {
    this.unfold?.dispose();
    this.unfold = null;
    super.dispose();
  }
}
