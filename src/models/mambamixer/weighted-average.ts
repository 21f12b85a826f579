/**
 * Weighted averaging of earlier features (v1 Eqs. 19–20, DenseFormer's depth-weighted average):
 * a layer's input is Σ_i w_i · y_i over earlier outputs y_i, with learnable scalars w_i — plain
 * scalars, no softmax (the paper's memory count 𝓛(2𝓛+3) confirms one scalar per pair).
 *
 * `WeightedAverage` is one such sum; `DenseMixerAverages` wires them for a stack of 𝓛 layers:
 *
 *   x_Token^(ℓ)   = Σ_{i<ℓ} α_{ℓ,i} y_Token^(i) + Σ_{i<ℓ} β_{ℓ,i} y_Channel^(i)     (19)  2ℓ scalars
 *   x_Channel^(ℓ) = Σ_{i≤ℓ} θ_{ℓ,i} y_Token^(i) + Σ_{i<ℓ} γ_{ℓ,i} y_Channel^(i)     (20)  2ℓ+1 scalars
 *   y_Token^(0) = y_Channel^(0) = the stack's input
 *
 * Identity initialisation (DenseFormer): β_{ℓ,ℓ-1} = 1 and θ_{ℓ,ℓ} = 1, all else 0, so at
 * initialisation the stack is a plain alternation token block → channel block, each y being its
 * block's residual-included output.
 */
import { ArgumentError } from '../../errors.js';
import { concat, matmul, reshape } from '../../ops/index.js';
import { filled } from '../../ops/random.js';
import type { DeviceName } from '../../backend/registry.js';
import { tidy } from '../../tensor/memory.js';
import type { Tensor } from '../../tensor/tensor.js';
import { Module, type Parameter } from '../../nn/module.js';

export class WeightedAverage extends Module {
  /** (n): one scalar per input. */
  readonly weight: Parameter;
  constructor(readonly inputs: number) {
    super();
    if (!Number.isInteger(inputs) || inputs < 1) throw new ArgumentError(`WeightedAverage: inputs must be a positive integer, got ${inputs}`);
    this.weight = this.param('weight', [inputs]);
  }

  /** Sets the identity initialisation: weight 1 on input `at`, 0 elsewhere. */
  initIdentity(at: number, device?: DeviceName): void {
    this.weight.set(filled([this.inputs], (i) => (i === at ? 1 : 0), { device }));
  }

  /** Σ_i weight[i] · xs[i]; every x of the same shape. One concat and one (1, n)·(n, size) product. */
  forward(xs: readonly Tensor[]): Tensor {
    if (xs.length !== this.inputs) throw new ArgumentError(`WeightedAverage: expected ${this.inputs} inputs, got ${xs.length}`);
    const shape = xs[0]!.shape;
    for (const x of xs) {
      if (x.shape.length !== shape.length || x.shape.some((d, i) => d !== shape[i])) {
        throw new ArgumentError(`WeightedAverage: inputs must share one shape, got [${shape.join(', ')}] and [${x.shape.join(', ')}]`);
      }
    }
    return tidy(() => {
      const size = xs[0]!.size;
      const stacked = concat(xs.map((x) => reshape(x, [1, size])), 0); // (n, size)
      return reshape(matmul(reshape(this.weight.value, [1, this.inputs]), stacked), shape);
    });
  }
}

/** One layer's result inside `DenseMixerAverages.run`. */
export interface DenseMixerTrace {
  /** y_Token^(0..𝓛): the input, then each token block's output. */
  token: Tensor[];
  /** y_Channel^(0..𝓛): the input, then each channel block's output. */
  channel: Tensor[];
}

export class DenseMixerAverages extends Module {
  /** token_average.<ℓ-1>: the α (first ℓ) and β (last ℓ) of layer ℓ. */
  readonly tokenAverages: WeightedAverage[];
  /** channel_average.<ℓ-1>: the θ (first ℓ+1) and γ (last ℓ) of layer ℓ. */
  readonly channelAverages: WeightedAverage[];

  constructor(readonly layers: number) {
    super();
    if (!Number.isInteger(layers) || layers < 1) throw new ArgumentError(`DenseMixerAverages: layers must be a positive integer, got ${layers}`);
    const ls = Array.from({ length: layers }, (_, i) => i + 1);
    this.tokenAverages = this.childList('token_average', ls.map((l) => new WeightedAverage(2 * l)));
    this.channelAverages = this.childList('channel_average', ls.map((l) => new WeightedAverage(2 * l + 1)));
  }

  /** β_{ℓ,ℓ-1} = 1 and θ_{ℓ,ℓ} = 1, everything else 0. */
  initIdentity(device?: DeviceName): void {
    this.tokenAverages.forEach((a, i) => a.initIdentity(2 * (i + 1) - 1, device)); // the last y_Channel
    this.channelAverages.forEach((a, i) => a.initIdentity(i + 1, device)); // y_Token^(ℓ)
  }

  /**
   * Runs the stack: `tokenBlock(ℓ, x)` and `channelBlock(ℓ, x)` (ℓ = 0..𝓛-1) return their
   * residual-included outputs, of x's shape. Returns y_Channel^(𝓛) and every y (for inspection;
   * all are freed with the caller's tidy scope).
   */
  run(x: Tensor, tokenBlock: (l: number, x: Tensor) => Tensor, channelBlock: (l: number, x: Tensor) => Tensor): { out: Tensor; trace: DenseMixerTrace } {
    const token = [x];
    const channel = [x];
    for (let l = 0; l < this.layers; l++) {
      const xt = this.tokenAverages[l]!.forward([...token, ...channel]); // y_T^(0..ℓ-1), y_C^(0..ℓ-1)
      token.push(tokenBlock(l, xt));
      const xc = this.channelAverages[l]!.forward([...token, ...channel]); // y_T^(0..ℓ), y_C^(0..ℓ-1)
      channel.push(channelBlock(l, xc));
    }
    return { out: channel[this.layers]!, trace: { token, channel } };
  }
}
