/**
 * ViM2, the Vision MambaMixer (arXiv 2403.19888 v1 §4, Fig. 2, Table 8), channels-last throughout:
 *
 *   patch_embed  p×p conv, stride p (= patches flattened + Linear), LayerNorm      (B, G·G, C_0)
 *   stages.s     s > 0: downsample, Swin's 2×2 patch merging: 4C_{s-1} → LayerNorm → Linear → C_s
 *                (an odd grid is zero-padded first, as VMamba), halving G
 *                MambaMixer layers ℓ = 1..𝓛_s (𝓛_s = channel_depths[s]), each
 *                  depths[s]/𝓛_s token blocks   y = x + CrossScanTokenMixer(LN(x))
 *                  one channel block             y = x + SelectiveChannelMixer(LN(x))
 *                with the weighted averaging of earlier features (Eqs. 19–20) within the stage
 *   norm, mean over the tokens, head                                               (B, classes)
 *
 * Input images are (B, H, W, in_channels), already normalised. docs/vim2.md gives each choice.
 */
import { add, concat, linear, reshape, scale, sum, transpose, zeros } from '../../ops/index.js';
import { filled, RandomSource } from '../../ops/random.js';
import type { DeviceName } from '../../backend/registry.js';
import { ArgumentError } from '../../errors.js';
import { tidy } from '../../tensor/memory.js';
import { formatShape } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { LayerNorm } from '../../nn/layer-norm.js';
import { Linear } from '../../nn/layers.js';
import { Module, type Parameter } from '../../nn/module.js';
import { SelectiveChannelMixer } from './channel-mixer.js';
import { initLinear, initSelectiveMixer, uniformFanIn } from './init.js';
import type { SelectiveMixer } from './selective-mixer.js';
import { CrossScanTokenMixer } from './vim2-token-mixer.js';
import { DenseMixerAverages } from './weighted-average.js';
import type { Vim2Config } from './vim2-config.js';

/** Pre-norm residual block: y = x + mixer(LayerNorm(x)) over x (B, L, C) — the residual-included y of Eqs. 19–20. */
export class Vim2Block extends Module {
  readonly norm: LayerNorm;
  constructor(
    dim: number,
    eps: number,
    readonly mixer: SelectiveMixer,
  ) {
    super();
    this.norm = this.child('norm', new LayerNorm(dim, eps));
    this.child('mixer', mixer);
  }
  forward(x: Tensor): Tensor {
    return tidy(() => add(x, this.mixer.forward(this.norm.forward(x))));
  }
}

/** The p×p stride-p conv of the stem as a Linear over flattened patches; weight kept in Conv2d's (C, Cin, p, p) layout. */
export class PatchEmbed extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter;
  readonly norm: LayerNorm;
  constructor(
    readonly inChannels: number,
    readonly dim: number,
    readonly patch: number,
    eps: number,
  ) {
    super();
    this.weight = this.param('proj.weight', [dim, inChannels, patch, patch]);
    this.bias = this.param('proj.bias', [dim]);
    this.norm = this.child('norm', new LayerNorm(dim, eps));
  }
  /** images (B, H, W, Cin) → tokens (B, (H/p)·(W/p), C), row-major over the patch grid. */
  forward(images: Tensor): Tensor {
    return tidy(() => {
      const [B, H, W, Cin] = images.shape as [number, number, number, number];
      const p = this.patch;
      const [gh, gw] = [H / p, W / p];
      const patches = transpose(reshape(images, [B, gh, p, gw, p, Cin]), [0, 1, 3, 5, 2, 4]); // (B, gh, gw, Cin, p, p)
      const flat = reshape(patches, [B, gh * gw, Cin * p * p]);
      const w = reshape(this.weight.value, [this.dim, Cin * p * p]);
      return this.norm.forward(linear(flat, w, this.bias.value)); // (B, gh·gw, C)
    });
  }
}

/** Swin's patch merging on a G×G grid (VMamba pads an odd G with zeros): (B, G·G, C) → (B, ⌈G/2⌉², C_out). */
export class PatchMerging extends Module {
  readonly norm: LayerNorm;
  readonly reduction: Linear;
  constructor(
    readonly dim: number,
    readonly outDim: number,
    readonly grid: number,
    eps: number,
  ) {
    super();
    this.norm = this.child('norm', new LayerNorm(4 * dim, eps));
    this.reduction = this.child('reduction', new Linear(4 * dim, outDim, false));
  }
  forward(x: Tensor): Tensor {
    return tidy(() => {
      const B = x.shape[0]!;
      const { dim: C, grid: G } = this;
      let g = reshape(x, [B, G, G, C]);
      if (G % 2 === 1) {
        const dev = x.device as DeviceName;
        g = concat([g, zeros([B, 1, G, C], { device: dev })], 1);
        g = concat([g, zeros([B, G + 1, 1, C], { device: dev })], 2);
      }
      const h = Math.ceil(G / 2);
      // (B, h, 2[dy], h, 2[dx], C) → (B, h, h, dx, dy, C): Swin's channel order x0, x1, x2, x3.
      const merged = reshape(transpose(reshape(g, [B, h, 2, h, 2, C]), [0, 1, 3, 4, 2, 5]), [B, h * h, 4 * C]);
      return this.reduction.forward(this.norm.forward(merged));
    });
  }
}

/** One stage: optional downsampling, then its MambaMixer layers with weighted averaging. */
export class Vim2Stage extends Module {
  readonly downsample: PatchMerging | null;
  readonly tokenBlocks: Vim2Block[];
  readonly channelBlocks: Vim2Block[];
  readonly averages: DenseMixerAverages;
  /** Token blocks per MambaMixer layer. */
  readonly tokenBlocksPerLayer: number;

  constructor(c: Vim2Config, s: number) {
    super();
    const f = c.fields;
    const C = f.dims[s]!;
    const G = c.grids[s]!;
    const eps = f.layer_norm_eps;
    this.downsample = s > 0 ? this.child('downsample', new PatchMerging(f.dims[s - 1]!, C, c.grids[s - 1]!, eps)) : null;
    this.tokenBlocksPerLayer = f.depths[s]! / f.channel_depths[s]!;
    const tokenMixer = () => new CrossScanTokenMixer({ dModel: C, height: G, width: G, dState: f.d_state, expand: f.expand, convKernel: f.conv_kernel });
    const channelMixer = () => new SelectiveChannelMixer({ tokens: G * G, dState: f.d_state, expand: f.channel_expand, dConv: f.channel_conv_kernel });
    this.tokenBlocks = this.childList('token_blocks', Array.from({ length: f.depths[s]! }, () => new Vim2Block(C, eps, tokenMixer())));
    this.channelBlocks = this.childList('channel_blocks', Array.from({ length: f.channel_depths[s]! }, () => new Vim2Block(C, eps, channelMixer())));
    this.averages = this.child('averages', new DenseMixerAverages(f.channel_depths[s]!));
  }

  /** x (B, G_in², C_in) → (B, G², C). */
  forward(x: Tensor): Tensor {
    return tidy(() => {
      const h = this.downsample ? this.downsample.forward(x) : x;
      const k = this.tokenBlocksPerLayer;
      const tokenLayer = (l: number, t: Tensor) => {
        let y = t;
        for (let i = 0; i < k; i++) y = this.tokenBlocks[l * k + i]!.forward(y);
        return y;
      };
      return this.averages.run(h, tokenLayer, (l, t) => this.channelBlocks[l]!.forward(t)).out;
    });
  }
}

export class Vim2ForImageClassification extends Module {
  readonly patch_embed: PatchEmbed;
  readonly stages: Vim2Stage[];
  readonly norm: LayerNorm;
  readonly head: Linear;

  constructor(readonly config: Vim2Config) {
    super();
    const f = config.fields;
    this.patch_embed = this.child('patch_embed', new PatchEmbed(f.in_channels, f.dims[0]!, f.patch_size, f.layer_norm_eps));
    this.stages = this.childList('stages', f.dims.map((_, s) => new Vim2Stage(config, s)));
    const last = f.dims[f.dims.length - 1]!;
    this.norm = this.child('norm', new LayerNorm(last, f.layer_norm_eps));
    this.head = this.child('head', new Linear(last, f.num_classes));
  }

  /** images (B, H, W, in_channels) → logits (B, num_classes). */
  forward(images: Tensor): Tensor {
    const f = this.config.fields;
    const want = [f.image_size, f.image_size, f.in_channels];
    if (images.rank !== 4 || want.some((d, i) => images.shape[i + 1] !== d)) {
      throw new ArgumentError(`Vim2ForImageClassification: images must be (B, ${want.join(', ')}), got ${formatShape(images.shape)}`);
    }
    return tidy(() => {
      let x = this.patch_embed.forward(images);
      for (const s of this.stages) x = s.forward(x);
      const [, L, C] = x.shape as [number, number, number];
      const pooled = scale(sum(transpose(this.norm.forward(x), [0, 2, 1])), 1 / L); // (B, C)
      return reshape(this.head.forward(pooled), [images.shape[0]!, f.num_classes]);
    });
  }

  get device(): DeviceName {
    return this.head.weight.value.device as DeviceName;
  }
}

/**
 * Initialisation from scratch: the mixers as mamba_ssm (init.ts; out_proj scaled by 1/√(blocks of
 * the stage)), their 2-D convs U(±1/√(K²)), LayerNorms 1 and 0, stem / merging / head as PyTorch's
 * Linear default, weighted averages at the identity (DenseFormer).
 */
export function initVim2Weights(model: Vim2ForImageClassification, seed: number, device?: DeviceName): void {
  const rng = new RandomSource(seed);
  const ln = (n: LayerNorm) => {
    n.weight.set(filled([n.dim], 1, { device }));
    n.bias.set(filled([n.dim], 0, { device }));
  };
  const pe = model.patch_embed;
  const fanIn = pe.inChannels * pe.patch * pe.patch;
  uniformFanIn(pe.weight, fanIn, rng, device);
  uniformFanIn(pe.bias, fanIn, rng, device);
  ln(pe.norm);
  for (const st of model.stages) {
    if (st.downsample) {
      ln(st.downsample.norm);
      initLinear(st.downsample.reduction, rng, device);
    }
    const blocks = [...st.tokenBlocks, ...st.channelBlocks];
    for (const b of blocks) {
      ln(b.norm);
      initSelectiveMixer(b.mixer, rng, { device, outScale: 1 / Math.sqrt(blocks.length) });
      if (b.mixer instanceof CrossScanTokenMixer) {
        const conv = b.mixer.conv2d;
        uniformFanIn(conv.weight, conv.kernelSize ** 2, rng, device);
        if (conv.bias) uniformFanIn(conv.bias, conv.kernelSize ** 2, rng, device);
      }
    }
    st.averages.initIdentity(device);
  }
  ln(model.norm);
  initLinear(model.head, rng, device);
}
