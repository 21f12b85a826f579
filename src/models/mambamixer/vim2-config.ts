/**
 * ViM2 (Vision MambaMixer, arXiv 2403.19888 v1 §4, Table 8) configuration: config.json fields,
 * defaults, checks, and the paper's Tiny / Small / Base presets plus a small MNIST preset.
 *
 * Symbols: C_s = dims[s] (stage width), E = expand·C_s (token mixer), N = d_state,
 * L_s = tokens of stage s (the channel mixer's Linear layers act on this axis, so they depend on
 * image_size: see docs/vim2.md).
 */
import { ArgumentError, FormatError } from '../../errors.js';
import { ConfigReader, GENERIC_CONFIG_FIELDS, preview } from '../config-fields.js';
import { checkParameterTotal, SIZE_LIMITS as LIMIT } from '../size-limits.js';
import { vim2Size } from './vim2-size.js';

export interface Vim2Fields {
  model_type: 'vim2';
  /** Square input images, in pixels. */
  image_size: number;
  in_channels: number;
  num_classes: number;
  /** The stem: a patch_size × patch_size conv with stride patch_size (paper: 4). */
  patch_size: number;
  /** C_s per stage; stage s > 0 starts with 2×2 patch merging C_{s-1} → C_s, halving H and W. */
  dims: number[];
  /** Token-mixer blocks per stage (Table 8: 2/2/6/2 Tiny, 2/2/18/2 Small and Base). */
  depths: number[];
  /** Channel-mixer blocks per stage (Table 8: half the token blocks); each follows depths/channel_depths token blocks. */
  channel_depths: number[];
  /** N of every S6 (Table 8's unprinted third argument "16"). */
  d_state: number;
  /** Token mixer: E = expand · C (Table 8: Linear C → 2C). */
  expand: number;
  /** Token mixer: the depthwise 2-D conv's kernel (3). */
  conv_kernel: number;
  /** Channel mixer: E_c = channel_expand · L_s along the token axis. */
  channel_expand: number;
  /** Channel mixer: the causal conv over the channel sequence (Mamba's 4). */
  channel_conv_kernel: number;
  layer_norm_eps: number;
}

const DEFAULTS: Omit<Vim2Fields, 'dims' | 'depths' | 'channel_depths'> = {
  model_type: 'vim2',
  image_size: 224,
  in_channels: 3,
  num_classes: 1000,
  patch_size: 4,
  d_state: 16,
  expand: 2,
  conv_kernel: 3,
  channel_expand: 1,
  channel_conv_kernel: 4,
  layer_norm_eps: 1e-5,
};

/** Table 8 (ImageNet-1K, 224²); the paper's parameter counts are 20M, 43M and 74M. */
export const VIM2_PRESETS: Record<'tiny' | 'small' | 'base' | 'mnist', Partial<Vim2Fields>> = {
  tiny: { dims: [96, 192, 384, 768], depths: [2, 2, 6, 2], channel_depths: [1, 1, 3, 1] },
  small: { dims: [96, 192, 384, 768], depths: [2, 2, 18, 2], channel_depths: [1, 1, 9, 1] },
  base: { dims: [128, 256, 512, 1024], depths: [2, 2, 18, 2], channel_depths: [1, 1, 9, 1] },
  /** 28² digits: a 2×2 stem gives 14×14 tokens, then 7×7; two stages, ~0.5M parameters. */
  mnist: { image_size: 28, in_channels: 1, num_classes: 10, patch_size: 2, dims: [32, 64], depths: [2, 2], channel_depths: [1, 1] },
};

/** A list of one size per stage, each an integer in [1, max]; at most SIZE_LIMITS.stages entries. */
function intList(r: ConfigReader, field: string, max: number, length?: number): number[] {
  r.known(field);
  const v = r.raw[field];
  const ok = Array.isArray(v) && v.length > 0 && v.length <= LIMIT.stages && v.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 1);
  if (!ok) throw new FormatError(r.source, `field "${field}": expected a non-empty list of integers >= 1, one per stage (at most ${LIMIT.stages}), got ${preview(v)}`);
  if (length !== undefined && v.length !== length) {
    throw new FormatError(r.source, `field "${field}": expected ${length} entries (one per stage, as "dims"), got ${v.length}`);
  }
  const over = (v as number[]).findIndex((x) => x > max);
  if (over >= 0) {
    throw new FormatError(r.source, `field "${field}[${over}]": ${v[over]} is more than ${max.toLocaleString('en-US')}, the most accepted (far beyond any released model: the value is wrong)`);
  }
  return v as number[];
}

export class Vim2Config {
  readonly unknownFields: string[];
  private constructor(
    readonly fields: Vim2Fields,
    unknown: string[],
  ) {
    this.unknownFields = unknown;
  }

  /** Checks every field of a config.json object (`source` names it in errors). */
  static fromJSON(raw: Record<string, unknown>, source = 'config.json'): Vim2Config {
    const r = new ConfigReader(raw, source);
    const type = r.string('model_type', 'vim2', ['vim2']) as 'vim2';
    const dims = intList(r, 'dims', LIMIT.width);
    const f: Vim2Fields = {
      model_type: type,
      image_size: r.size('image_size', LIMIT.imageSize, DEFAULTS.image_size),
      in_channels: r.size('in_channels', LIMIT.imageChannels, DEFAULTS.in_channels),
      num_classes: r.size('num_classes', LIMIT.classes, DEFAULTS.num_classes, 2),
      patch_size: r.size('patch_size', LIMIT.imageSize, DEFAULTS.patch_size),
      dims,
      depths: intList(r, 'depths', LIMIT.layers, dims.length),
      channel_depths: intList(r, 'channel_depths', LIMIT.layers, dims.length),
      d_state: r.size('d_state', LIMIT.stateSize, DEFAULTS.d_state),
      expand: r.size('expand', LIMIT.expand, DEFAULTS.expand),
      conv_kernel: r.size('conv_kernel', LIMIT.convKernel, DEFAULTS.conv_kernel),
      channel_expand: r.size('channel_expand', LIMIT.expand, DEFAULTS.channel_expand),
      channel_conv_kernel: r.size('channel_conv_kernel', LIMIT.convKernel, DEFAULTS.channel_conv_kernel),
      layer_norm_eps: r.number('layer_norm_eps', DEFAULTS.layer_norm_eps, (x) => x > 0, 'a number > 0'),
    };
    r.known(...GENERIC_CONFIG_FIELDS);
    const fail = (m: string): never => {
      throw new FormatError(source, m);
    };
    if (f.image_size % f.patch_size !== 0) fail(`field "image_size" (${f.image_size}) must be a multiple of "patch_size" (${f.patch_size})`);
    if (f.conv_kernel % 2 !== 1) fail(`field "conv_kernel": expected an odd integer (the 2-D conv keeps the size), got ${f.conv_kernel}`);
    f.depths.forEach((d, s) => {
      if (d % f.channel_depths[s]! !== 0) {
        fail(`fields "depths" and "channel_depths": stage ${s} has ${d} token blocks, not a multiple of its ${f.channel_depths[s]} channel blocks`);
      }
    });
    const config = new Vim2Config(f, r.unknownFields());
    const sizes = ['image_size', 'patch_size', 'dims', 'depths', 'channel_depths', 'expand', 'channel_expand', 'd_state'] as const;
    checkParameterTotal(vim2Size(config).parameters, source, sizes.map((k) => [k, f[k]]));
    return config;
  }

  /** A preset (tiny, small, base, mnist) with `overrides` applied. */
  static preset(name: string, overrides: Record<string, unknown> = {}): Vim2Config {
    const p = Object.hasOwn(VIM2_PRESETS, name) ? (VIM2_PRESETS as Record<string, Partial<Vim2Fields>>)[name] : undefined;
    if (!p) throw new ArgumentError(`Vim2Config.preset: unknown preset "${name}"; known: ${Object.keys(VIM2_PRESETS).join(', ')}`);
    return Vim2Config.fromJSON({ ...DEFAULTS, ...p, ...overrides }, `ViM2 preset "${name}"`);
  }

  get stages(): number {
    return this.fields.dims.length;
  }

  /** Side of the token grid of each stage: image/patch, then halved (rounded up: odd sizes are padded) by each merging. */
  get grids(): number[] {
    const out = [this.fields.image_size / this.fields.patch_size];
    for (let s = 1; s < this.stages; s++) out.push(Math.ceil(out[s - 1]! / 2));
    return out;
  }

  toJSON(): Record<string, unknown> {
    return { architectures: ['Vim2ForImageClassification'], ...this.fields };
  }
}
