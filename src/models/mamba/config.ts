/**
 * HF `MambaConfig` (transformers/models/mamba/configuration_mamba.py): the same field names and
 * defaults, validated. Symbols as in the paper: D = hidden_size, E·D = intermediate_size,
 * N = state_size, K = conv_kernel, R = time_step_rank.
 */
import { ArgumentError, FormatError } from '../../errors.js';
import { ConfigReader, GENERIC_CONFIG_FIELDS } from '../config-fields.js';
import { unknownFieldsMessage } from '../../options.js';
import { checkParameterTotal, SIZE_LIMITS as LIMIT } from '../size-limits.js';

export interface MambaConfigFields {
  model_type: 'mamba';
  vocab_size: number;
  hidden_size: number; // D
  state_size: number; // N
  num_hidden_layers: number;
  layer_norm_epsilon: number;
  expand: number; // E
  intermediate_size: number; // E·D
  conv_kernel: number; // K
  time_step_rank: number; // R, "auto" → ceil(D / 16)
  use_bias: boolean;
  use_conv_bias: boolean;
  hidden_act: 'silu';
  residual_in_fp32: boolean;
  tie_word_embeddings: boolean;
  bos_token_id: number | null;
  eos_token_id: number | number[] | null;
  pad_token_id: number | null;
  // Initialisation (used when training from scratch).
  initializer_range: number;
  time_step_scale: number;
  time_step_min: number;
  time_step_max: number;
  time_step_init_scheme: 'random' | 'constant';
  time_step_floor: number;
  rescale_prenorm_residual: boolean;
  /**
   * mamba-ts extension for the paper's ablation (not an HF field; written only when false): false
   * makes Δ, B and C input-independent — x_proj reads a constant instead of x — so the layer is a
   * linear time-invariant SSM (S4-like) with the same parameters.
   */
  selective: boolean;
}

/** Fields of the original mamba_ssm config that -hf checkpoints still carry; transformers ignores them. */
const LEGACY_FIELDS = ['d_model', 'd_inner', 'n_layer', 'fused_add_norm', 'rms_norm', 'ssm_cfg', 'pad_vocab_size_multiple',
  'use_mambapy', 'use_associative_scan'];

/** Fields HF's MambaConfig declares as float (written as floats in config.json). */
export const MAMBA_FLOAT_FIELDS = ['layer_norm_epsilon', 'initializer_range', 'time_step_scale', 'time_step_min', 'time_step_max', 'time_step_floor'] as const;

export class MambaConfig {
  private constructor(
    readonly fields: MambaConfigFields,
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

  /** Parses a config.json object; `source` names the file in errors. */
  static fromJSON(raw: Record<string, unknown>, source = 'config.json'): MambaConfig {
    const r = new ConfigReader(raw, source);
    const modelType = r.string('model_type', 'mamba');
    if (modelType !== 'mamba') throw new FormatError(source, `model_type is "${modelType}", expected "mamba"`);
    const hidden = r.size('hidden_size', LIMIT.width);
    const expand = r.size('expand', LIMIT.expand, 2);
    const timeStepRank = r.rankOrAuto('time_step_rank', Math.ceil(hidden / 16), LIMIT.width);
    const intermediate = r.size('intermediate_size', LIMIT.innerWidth, expand * hidden);
    if (r.has('intermediate_size') && r.has('expand') && intermediate !== expand * hidden) {
      throw new FormatError(
        source,
        `fields "intermediate_size" (${intermediate}) and "expand" × "hidden_size" (${expand} × ${hidden} = ${expand * hidden}) contradict each other`,
      );
    }
    const vocab = r.size('vocab_size', LIMIT.vocab);
    const fields: MambaConfigFields = {
      model_type: 'mamba',
      vocab_size: vocab,
      hidden_size: hidden,
      state_size: r.size('state_size', LIMIT.stateSize, 16),
      num_hidden_layers: r.size('num_hidden_layers', LIMIT.layers),
      layer_norm_epsilon: r.number('layer_norm_epsilon', 1e-5, (x) => x > 0, 'a positive number'),
      expand,
      intermediate_size: intermediate,
      conv_kernel: r.size('conv_kernel', LIMIT.convKernel, 4),
      time_step_rank: timeStepRank,
      use_bias: r.bool('use_bias', true),
      use_conv_bias: r.bool('use_conv_bias', true),
      hidden_act: r.string('hidden_act', 'silu', ['silu']) as 'silu',
      residual_in_fp32: r.bool('residual_in_fp32', true),
      tie_word_embeddings: r.bool('tie_word_embeddings', true),
      bos_token_id: r.tokenId('bos_token_id', vocab),
      eos_token_id: r.tokenIdOrList('eos_token_id', vocab),
      pad_token_id: r.tokenId('pad_token_id', vocab),
      initializer_range: r.number('initializer_range', 0.1, (x) => x >= 0, 'a number >= 0'),
      time_step_scale: r.number('time_step_scale', 1.0),
      time_step_min: r.number('time_step_min', 0.001, (x) => x > 0, 'a positive number'),
      time_step_max: r.number('time_step_max', 0.1, (x) => x > 0, 'a positive number'),
      time_step_init_scheme: r.string('time_step_init_scheme', 'random', ['random', 'constant']) as 'random' | 'constant',
      time_step_floor: r.number('time_step_floor', 1e-4, (x) => x >= 0, 'a number >= 0'),
      rescale_prenorm_residual: r.bool('rescale_prenorm_residual', false),
      selective: r.bool('selective', true),
    };
    if (fields.time_step_min > fields.time_step_max) {
      throw new FormatError(source, `fields "time_step_min" (${fields.time_step_min}) > "time_step_max" (${fields.time_step_max})`);
    }
    r.known(...GENERIC_CONFIG_FIELDS, ...LEGACY_FIELDS);
    const config = new MambaConfig(fields, r.unknownFields(), raw);
    checkParameterTotal(config.parameterCount(), source, config.sizeFields());
    return config;
  }

  /**
   * A config built in code: unlike a config.json from elsewhere (which may carry fields of newer
   * versions), an unknown field here is a typo and an error.
   */
  static create(fields: Partial<MambaConfigFields> & { hidden_size: number; num_hidden_layers: number; vocab_size: number }): MambaConfig {
    const c = MambaConfig.fromJSON({ model_type: 'mamba', ...fields }, 'MambaConfig');
    if (c.unknownFields.length) throw new ArgumentError(`MambaConfig: ${unknownFieldsMessage(c.unknownFields, Object.keys(c.fields))}`);
    return c;
  }

  /** Parameters of the model this config describes, from its fields alone (nothing is built). */
  parameterCount(): number {
    const f = this.fields;
    const [H, E, N, K, R, V] = [f.hidden_size, f.intermediate_size, f.state_size, f.conv_kernel, f.time_step_rank, f.vocab_size];
    const bias = f.use_bias ? 1 : 0;
    const mixer =
      H * 2 * E + bias * 2 * E + // in_proj
      E * K + (f.use_conv_bias ? E : 0) + // conv1d
      E * (R + 2 * N) + // x_proj
      R * E + E + // dt_proj, with its bias
      E * N + E + // A_log, D
      E * H + bias * H; // out_proj
    return V * H * (f.tie_word_embeddings ? 1 : 2) + H + f.num_hidden_layers * (H + mixer);
  }

  /** Decode state per sequence: each layer's conv (E, K-1) and SSM (E, N) states, float32. */
  decodeStateBytes(): number {
    const f = this.fields;
    return f.num_hidden_layers * f.intermediate_size * (f.conv_kernel - 1 + f.state_size) * 4;
  }

  /** The fields that set the parameter count, for errors about sizes. */
  sizeFields(): [string, number][] {
    const f = this.fields;
    return [['num_hidden_layers', f.num_hidden_layers], ['hidden_size', f.hidden_size], ['intermediate_size', f.intermediate_size], ['state_size', f.state_size], ['vocab_size', f.vocab_size]];
  }

  /** The config.json to save: the original fields, overridden by the parsed ones. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { ...this.raw, ...this.fields, architectures: ['MambaForCausalLM'] };
    if (this.fields.selective) delete out['selective'];
    return out;
  }
}

