/**
 * HF `Mamba2Config` (transformers/models/mamba2/configuration_mamba2.py): the same field names and
 * defaults, validated. Symbols: D = hidden_size, E = expand·D (the SSM's inner width),
 * H = num_heads, P = head_dim (H·P = E), G = n_groups (B and C are shared by H/G heads),
 * N = state_size, K = conv_kernel, T = chunk_size.
 *
 * Two defaults differ from HF's on purpose, for configs built in code: num_heads defaults to E / P
 * (HF's 128 fits only its default width of 4096), and HF's defaults of n_groups 8 and
 * tie_word_embeddings false are kept. A config.json written by transformers carries every field,
 * so loading never meets these defaults.
 */
import { ArgumentError, FormatError } from '../../errors.js';
import { ConfigReader, GENERIC_CONFIG_FIELDS, preview } from '../config-fields.js';
import { unknownFieldsMessage } from '../../options.js';
import { checkParameterTotal, SIZE_LIMITS as LIMIT } from '../size-limits.js';

export interface Mamba2ConfigFields {
  model_type: 'mamba2';
  vocab_size: number;
  hidden_size: number; // D
  state_size: number; // N
  num_hidden_layers: number;
  layer_norm_epsilon: number;
  expand: number;
  num_heads: number; // H
  head_dim: number; // P
  n_groups: number; // G
  conv_kernel: number; // K
  chunk_size: number; // T
  use_bias: boolean;
  use_conv_bias: boolean;
  hidden_act: 'silu';
  residual_in_fp32: boolean;
  tie_word_embeddings: boolean;
  bos_token_id: number | null;
  eos_token_id: number | number[] | null;
  pad_token_id: number | null;
  /** Not used by the layer (Mamba-2 has no dt_proj); kept because HF's config carries it. "auto" → ceil(D / 16). */
  time_step_rank: number;
  /** dt is clamped to [lo, hi] after the softplus; HF's default (0, ∞) clamps nothing. */
  time_step_limit: [number, number];
  // Initialisation (used when training from scratch).
  initializer_range: number;
  time_step_min: number;
  time_step_max: number;
  time_step_floor: number;
  rescale_prenorm_residual: boolean;
}

/**
 * Fields HF's config carries that do not change this computation: `rms_norm` and
 * `norm_before_gate` are read by HF's mixer but its torch path always applies the gated norm as
 * norm(y · silu(z)), which is what this implementation does.
 */
const IGNORED_FIELDS = ['rms_norm', 'norm_before_gate', 'layer_types'];

/** Fields HF's Mamba2Config declares as float (written as floats in config.json). */
export const MAMBA2_FLOAT_FIELDS = ['layer_norm_epsilon', 'initializer_range', 'time_step_min', 'time_step_max', 'time_step_floor'] as const;

/**
 * A bound of time_step_limit: a number, or infinity as transformers ≥ 5 writes it
 * ({"__float__": "Infinity"}; 4.x's bare Infinity reaches here in that form, see io/json.ts) or as
 * a string, which some converted configs hold.
 */
function limitValue(v: unknown): number | undefined {
  if (typeof v === 'number' && !Number.isNaN(v)) return v;
  const tag = typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>)['__float__'] : v;
  if (tag === 'Infinity' || tag === 'inf') return Infinity;
  if (tag === '-Infinity' || tag === '-inf') return -Infinity;
  return undefined;
}

function jsonLimitValue(x: number): number | { __float__: string } {
  return Number.isFinite(x) ? x : { __float__: x > 0 ? 'Infinity' : '-Infinity' };
}

export class Mamba2Config {
  private constructor(
    readonly fields: Mamba2ConfigFields,
    /** config.json fields that mean nothing to this implementation (kept when saving). */
    readonly unknownFields: string[],
    readonly raw: Record<string, unknown>,
  ) {}

  get hiddenSize(): number {
    return this.fields.hidden_size;
  }
  get numLayers(): number {
    return this.fields.num_hidden_layers;
  }
  get vocabSize(): number {
    return this.fields.vocab_size;
  }
  /** E = expand · hidden_size: the width of x, z and the gated norm. */
  get intermediateSize(): number {
    return this.fields.expand * this.fields.hidden_size;
  }
  /** Channels of the causal conv: x, B and C together, E + 2·G·N. */
  get convDim(): number {
    const f = this.fields;
    return this.intermediateSize + 2 * f.n_groups * f.state_size;
  }
  /** in_proj's output: z (E), xBC (convDim), dt (H). */
  get projectionSize(): number {
    return this.intermediateSize + this.convDim + this.fields.num_heads;
  }

  /** Parses a config.json object; `source` names the file in errors. */
  static fromJSON(raw: Record<string, unknown>, source = 'config.json'): Mamba2Config {
    const r = new ConfigReader(raw, source);
    const modelType = r.string('model_type', 'mamba2');
    if (modelType !== 'mamba2') throw new FormatError(source, `model_type is "${modelType}", expected "mamba2"`);
    const hidden = r.size('hidden_size', LIMIT.width);
    const expand = r.size('expand', LIMIT.expand, 2);
    const inner = expand * hidden;
    if (inner > LIMIT.innerWidth) throw new FormatError(source, `"expand" × "hidden_size" = ${inner} is more than ${LIMIT.innerWidth}, the most accepted`);
    const headDim = r.size('head_dim', LIMIT.innerWidth, 64);
    const numHeads = r.size('num_heads', LIMIT.innerWidth, Math.max(1, Math.floor(inner / headDim)));
    if (numHeads * headDim !== inner) {
      throw new FormatError(
        source,
        `fields "num_heads" × "head_dim" (${numHeads} × ${headDim} = ${numHeads * headDim}) must equal "expand" × "hidden_size" (${expand} × ${hidden} = ${inner})`,
      );
    }
    const nGroups = r.size('n_groups', LIMIT.heads, 8);
    if (numHeads % nGroups !== 0) {
      throw new FormatError(source, `field "n_groups" (${nGroups}) must divide "num_heads" (${numHeads}): each group's B and C serve num_heads / n_groups heads`);
    }
    const vocab = r.size('vocab_size', LIMIT.vocab);
    const fields: Mamba2ConfigFields = {
      model_type: 'mamba2',
      vocab_size: vocab,
      hidden_size: hidden,
      state_size: r.size('state_size', LIMIT.stateSize, 128),
      num_hidden_layers: r.size('num_hidden_layers', LIMIT.layers),
      layer_norm_epsilon: r.number('layer_norm_epsilon', 1e-5, (x) => x > 0, 'a positive number'),
      expand,
      num_heads: numHeads,
      head_dim: headDim,
      n_groups: nGroups,
      conv_kernel: r.size('conv_kernel', LIMIT.convKernel, 4),
      chunk_size: r.size('chunk_size', 1 << 16, 256),
      use_bias: r.bool('use_bias', false),
      use_conv_bias: r.bool('use_conv_bias', true),
      hidden_act: r.string('hidden_act', 'silu', ['silu']) as 'silu',
      residual_in_fp32: r.bool('residual_in_fp32', true),
      tie_word_embeddings: r.bool('tie_word_embeddings', false),
      bos_token_id: r.tokenId('bos_token_id', vocab),
      eos_token_id: r.tokenIdOrList('eos_token_id', vocab),
      pad_token_id: r.tokenId('pad_token_id', vocab),
      time_step_rank: r.rankOrAuto('time_step_rank', Math.ceil(hidden / 16), LIMIT.width),
      time_step_limit: readLimit(r, source),
      initializer_range: r.number('initializer_range', 0.1, (x) => x >= 0, 'a number >= 0'),
      time_step_min: r.number('time_step_min', 0.001, (x) => x > 0, 'a positive number'),
      time_step_max: r.number('time_step_max', 0.1, (x) => x > 0, 'a positive number'),
      time_step_floor: r.number('time_step_floor', 1e-4, (x) => x >= 0, 'a number >= 0'),
      rescale_prenorm_residual: r.bool('rescale_prenorm_residual', false),
    };
    if (fields.time_step_min > fields.time_step_max) {
      throw new FormatError(source, `fields "time_step_min" (${fields.time_step_min}) > "time_step_max" (${fields.time_step_max})`);
    }
    checkLayerTypes(raw['layer_types'], fields.num_hidden_layers, source);
    r.known(...GENERIC_CONFIG_FIELDS, ...IGNORED_FIELDS);
    const config = new Mamba2Config(fields, r.unknownFields(), raw);
    checkParameterTotal(config.parameterCount(), source, config.sizeFields());
    return config;
  }

  /** A config built in code: an unknown field here is a typo and an error. */
  static create(
    fields: Partial<Omit<Mamba2ConfigFields, 'model_type'>> & { hidden_size: number; num_hidden_layers: number; vocab_size: number },
  ): Mamba2Config {
    const c = Mamba2Config.fromJSON({ model_type: 'mamba2', ...fields }, 'Mamba2Config');
    if (c.unknownFields.length) throw new ArgumentError(`Mamba2Config: ${unknownFieldsMessage(c.unknownFields, Object.keys(c.fields))}`);
    return c;
  }

  /** Parameters of the model this config describes, from its fields alone (nothing is built). */
  parameterCount(): number {
    const f = this.fields;
    const [D, E, Hh, K, V] = [f.hidden_size, this.intermediateSize, f.num_heads, f.conv_kernel, f.vocab_size];
    const bias = f.use_bias ? 1 : 0;
    const mixer =
      D * this.projectionSize + bias * this.projectionSize + // in_proj
      this.convDim * K + (f.use_conv_bias ? this.convDim : 0) + // conv1d
      3 * Hh + // dt_bias, A_log, D
      E + // the gated norm
      E * D + bias * D; // out_proj
    return V * D * (f.tie_word_embeddings ? 1 : 2) + D + f.num_hidden_layers * (D + mixer);
  }

  /** Decode state per sequence: each layer's conv (convDim, K-1) and SSM (H, P, N) states, float32. */
  decodeStateBytes(): number {
    const f = this.fields;
    return f.num_hidden_layers * (this.convDim * (f.conv_kernel - 1) + f.num_heads * f.head_dim * f.state_size) * 4;
  }

  /** The fields that set the parameter count, for errors about sizes. */
  sizeFields(): [string, number][] {
    const f = this.fields;
    return [['num_hidden_layers', f.num_hidden_layers], ['hidden_size', f.hidden_size], ['num_heads', f.num_heads], ['state_size', f.state_size], ['vocab_size', f.vocab_size]];
  }

  /** The config.json to save: the original fields, overridden by the parsed ones. */
  toJSON(): Record<string, unknown> {
    const f = this.fields;
    return {
      ...this.raw,
      ...f,
      time_step_limit: f.time_step_limit.map(jsonLimitValue),
      architectures: ['Mamba2ForCausalLM'],
    };
  }
}

function readLimit(r: ConfigReader, source: string): [number, number] {
  r.known('time_step_limit');
  const v = r.raw['time_step_limit'];
  if (v === undefined || v === null) return [0, Infinity];
  const pair = Array.isArray(v) && v.length === 2 ? v.map(limitValue) : [];
  const [lo, hi] = pair;
  if (lo === undefined || hi === undefined || !(lo <= hi) || lo < 0 || !Number.isFinite(lo)) {
    throw new FormatError(source, `field "time_step_limit": expected [low, high] with 0 <= low <= high and low finite (high may be {"__float__": "Infinity"}), got ${preview(v)}`);
  }
  return [lo, hi];
}

/** HF's newer configs list each layer's kind; a Mamba-2 model has only "mamba" layers. */
function checkLayerTypes(v: unknown, layers: number, source: string): void {
  if (v === undefined || v === null) return;
  if (!Array.isArray(v) || v.length !== layers || v.some((t) => t !== 'mamba')) {
    throw new FormatError(source, `field "layer_types": expected ${layers} entries, each "mamba" (attention layers are not part of Mamba2ForCausalLM), got ${preview(v)}`);
  }
}
