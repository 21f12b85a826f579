/**
 * HF `LlamaConfig` (transformers/models/llama/configuration_llama.py): the same field names and
 * defaults, validated. RoPE settings are read in both of transformers' layouts — version 4's
 * `rope_theta` + `rope_scaling` and version 5's `rope_parameters` — and written in both, so that
 * either version loads a saved folder.
 */
import { ArgumentError, FormatError } from '../../errors.js';
import { ConfigReader, GENERIC_CONFIG_FIELDS, preview } from '../config-fields.js';
import { unknownFieldsMessage } from '../../options.js';
import { checkParameterTotal, SIZE_LIMITS as LIMIT } from '../size-limits.js';
import { llamaFootprint } from './footprint.js';
import type { RopeScaling } from './rope-frequencies.js';

export interface LlamaConfigFields {
  model_type: 'llama';
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  /** Per attention head; HF's default hidden_size / num_attention_heads. Even (RoPE rotates its halves). */
  head_dim: number;
  /** The context the model was trained for; nothing here stops at it (HF does not either). */
  max_position_embeddings: number;
  rope_theta: number;
  /** null: plain RoPE ("default"). */
  rope_scaling: RopeScaling | null;
  rms_norm_eps: number;
  hidden_act: 'silu';
  attention_bias: boolean;
  mlp_bias: boolean;
  tie_word_embeddings: boolean;
  /** The standard deviation of every weight when initialised for training (HF's _init_weights). */
  initializer_range: number;
  bos_token_id: number | null;
  eos_token_id: number | number[] | null;
  pad_token_id: number | null;
}

/**
 * Fields that change nothing here: pretraining_tp splits the same products into slices (HF's
 * tensor-parallel emulation); attention_dropout is a training-time dropout this library does not
 * apply (released configs have 0.0).
 */
const IGNORED_FIELDS = ['pretraining_tp', 'attention_dropout'];

/** Fields transformers declares as floats: written as 1.0, never 1 (also inside rope_parameters). */
export const LLAMA_FLOAT_FIELDS = ['rms_norm_eps', 'initializer_range', 'rope_theta', 'factor', 'low_freq_factor', 'high_freq_factor', 'attention_dropout'] as const;

/** Positions stay exact in float32 below 2^24 (RoPE multiplies them in float32, as HF). */
export const MAX_POSITIONS = 2 ** 24;

/** The RoPE types implemented (HF's names), each with the keys its dict may hold besides rope_type and rope_theta. */
const ROPE_TYPES: ReadonlyMap<string, readonly string[]> = new Map([
  ['default', []],
  ['linear', ['factor']],
  ['llama3', ['factor', 'low_freq_factor', 'high_freq_factor', 'original_max_position_embeddings']],
]);

/**
 * rope_theta and the scaling, as HF 5 resolves them: the dict is rope_scaling if set, else
 * rope_parameters; its rope_theta wins over the top-level one (default 10000).
 */
function readRope(raw: Record<string, unknown>, r: ConfigReader, source: string): { theta: number; scaling: RopeScaling | null } {
  r.known('rope_scaling', 'rope_parameters');
  const field = raw['rope_scaling'] !== undefined && raw['rope_scaling'] !== null ? 'rope_scaling' : 'rope_parameters';
  const dict = raw[field];
  const fail = (m: string): never => {
    throw new FormatError(source, m);
  };
  if (dict !== undefined && dict !== null && (typeof dict !== 'object' || Array.isArray(dict))) fail(`field "${field}": expected an object or null, got ${preview(dict)}`);
  const d = (dict ?? {}) as Record<string, unknown>;
  // The dict's keys read as "field.key" by a ConfigReader, so that errors name them in full.
  const flat: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [k, v] of Object.entries(d)) flat[`${field}.${k}`] = v;
  const n = new ConfigReader(flat, source);
  const typeKey = `${field}.${d['rope_type'] !== undefined ? 'rope_type' : 'type'}`;
  n.known(`${field}.rope_type`, `${field}.type`);
  const type = n.string(typeKey, 'default');
  const keys = ROPE_TYPES.get(type);
  if (keys === undefined) fail(`field "${typeKey}": RoPE type ${preview(type)} is not implemented here; supported: ${[...ROPE_TYPES.keys()].map((t) => `"${t}"`).join(', ')}`);
  const theta = n.has(`${field}.rope_theta`)
    ? n.number(`${field}.rope_theta`, undefined, (x) => x > 1, 'a number > 1')
    : (n.known(`${field}.rope_theta`), r.number('rope_theta', 10000, (x) => x > 1, 'a number > 1'));
  r.known('rope_theta');
  // Settings that would change the numbers but are no part of these types: refused when they ask for anything.
  const neutralKeys: [string, number][] = [['partial_rotary_factor', 1], ['attention_factor', 1]];
  if (type === 'default') neutralKeys.push(['factor', 1]); // some configs carry factor 1.0 with plain RoPE
  for (const [key, neutral] of neutralKeys) {
    const k = `${field}.${key}`;
    if (n.has(k) && n.number(k) !== neutral) fail(`field "${k}": ${preview(flat[k])} is not implemented here (only ${neutral}.0)`);
    n.known(k);
  }
  const positive = (k: string) => n.number(`${field}.${k}`, undefined, (x) => x > 0, 'a number > 0');
  let scaling: RopeScaling | null = null;
  if (type === 'linear') scaling = { rope_type: 'linear', factor: positive('factor') };
  if (type === 'llama3') {
    scaling = {
      rope_type: 'llama3',
      factor: positive('factor'),
      low_freq_factor: positive('low_freq_factor'),
      high_freq_factor: positive('high_freq_factor'),
      original_max_position_embeddings: n.size(`${field}.original_max_position_embeddings`, MAX_POSITIONS),
    };
    if (!(scaling.high_freq_factor > scaling.low_freq_factor)) {
      fail(`fields "${field}.high_freq_factor" (${scaling.high_freq_factor}) and "${field}.low_freq_factor" (${scaling.low_freq_factor}) contradict: the high one must be larger`);
    }
  }
  const unknown = n.unknownFields();
  if (unknown.length) fail(`field "${unknown[0]}" is not a setting of RoPE type "${type}" (it takes ${['rope_type', 'rope_theta', ...keys!].map((k) => `"${k}"`).join(', ')}); refusing rather than ignoring it`);
  return { theta, scaling };
}

export class LlamaConfig {
  private constructor(
    readonly fields: LlamaConfigFields,
    /** config.json fields that mean nothing to this implementation (kept when saving). */
    readonly unknownFields: string[],
    readonly raw: Record<string, unknown>,
  ) {}

  static fromJSON(raw: Record<string, unknown>, source = 'config.json'): LlamaConfig {
    const r = new ConfigReader(raw, source);
    const fail = (m: string): never => {
      throw new FormatError(source, m);
    };
    const modelType = r.string('model_type', 'llama');
    if (modelType !== 'llama') fail(`model_type is "${modelType}", expected "llama"`);
    const hidden = r.size('hidden_size', LIMIT.width, 4096);
    const heads = r.size('num_attention_heads', LIMIT.heads, 32);
    const vocab = r.size('vocab_size', LIMIT.vocab, 32000);
    // HF: absent or null → one KV head per query head (multi-head attention).
    const kvHeads = r.has('num_key_value_heads') ? r.size('num_key_value_heads', LIMIT.heads) : (r.known('num_key_value_heads'), heads);
    if (!r.has('head_dim') && hidden % heads !== 0) {
      fail(`field "hidden_size" (${hidden}) is not a multiple of "num_attention_heads" (${heads}), and no "head_dim" says the size of a head`);
    }
    const headDim = r.has('head_dim') ? r.size('head_dim', LIMIT.width) : (r.known('head_dim'), hidden / heads);
    if (headDim % 2 !== 0) fail(`field "head_dim" (${headDim}${r.has('head_dim') ? '' : ' = hidden_size / num_attention_heads'}) must be even: RoPE rotates the two halves of a head together`);
    // HF LlamaConfig's defaults are bos 1, eos 2 (when they fit the vocabulary); null means none.
    const tokenDefault = (field: string, def: number) => (raw[field] === undefined ? (r.known(field), def < vocab ? def : null) : undefined);
    const rope = readRope(raw, r, source);
    const f: LlamaConfigFields = {
      model_type: 'llama',
      vocab_size: vocab,
      hidden_size: hidden,
      intermediate_size: r.size('intermediate_size', LIMIT.innerWidth, 11008),
      num_hidden_layers: r.size('num_hidden_layers', LIMIT.layers, 32),
      num_attention_heads: heads,
      num_key_value_heads: kvHeads,
      head_dim: headDim,
      max_position_embeddings: r.size('max_position_embeddings', MAX_POSITIONS, 2048),
      rope_theta: rope.theta,
      rope_scaling: rope.scaling,
      rms_norm_eps: r.number('rms_norm_eps', 1e-6, (x) => x > 0, 'a positive number'),
      hidden_act: r.string('hidden_act', 'silu', ['silu']) as 'silu',
      attention_bias: r.bool('attention_bias', false),
      mlp_bias: r.bool('mlp_bias', false),
      tie_word_embeddings: r.bool('tie_word_embeddings', false),
      initializer_range: r.number('initializer_range', 0.02, (x) => x > 0, 'a positive number'),
      bos_token_id: tokenDefault('bos_token_id', 1) ?? r.tokenId('bos_token_id', vocab),
      eos_token_id: tokenDefault('eos_token_id', 2) ?? r.tokenIdOrList('eos_token_id', vocab),
      pad_token_id: r.tokenId('pad_token_id', vocab),
    };
    if (f.num_attention_heads % f.num_key_value_heads !== 0) {
      fail(`field "num_attention_heads" (${f.num_attention_heads}) is not a multiple of "num_key_value_heads" (${f.num_key_value_heads})`);
    }
    if (r.has('pretraining_tp')) r.int('pretraining_tp');
    if (r.has('attention_dropout')) r.number('attention_dropout', 0, (x) => x >= 0 && x < 1, 'a number in [0, 1)');
    r.known(...GENERIC_CONFIG_FIELDS, ...IGNORED_FIELDS);
    const config = new LlamaConfig(f, r.unknownFields(), raw);
    checkParameterTotal(config.parameterCount(), source, config.sizeFields());
    return config;
  }

  /** A config built in code: an unknown field is a typo and an error (see MambaConfig.create). */
  static create(fields: Partial<LlamaConfigFields> & { vocab_size: number }): LlamaConfig {
    const c = LlamaConfig.fromJSON({ model_type: 'llama', ...fields }, 'LlamaConfig');
    if (c.unknownFields.length) throw new ArgumentError(`LlamaConfig: ${unknownFieldsMessage(c.unknownFields, Object.keys(c.fields))}`);
    return c;
  }

  /**
   * The config.json to save: the original fields, overridden by the parsed ones, with RoPE in both
   * transformers layouts (4 reads rope_theta and rope_scaling, 5 rope_parameters).
   */
  toJSON(): Record<string, unknown> {
    const f = this.fields;
    const ropeParameters = { rope_type: f.rope_scaling?.rope_type ?? 'default', rope_theta: f.rope_theta, ...f.rope_scaling };
    return { ...this.raw, ...f, rope_parameters: ropeParameters, architectures: ['LlamaForCausalLM'] };
  }

  /** Parameters of the model this config describes, from its fields alone (see footprint.ts). */
  parameterCount(): number {
    return llamaFootprint(this, 0).parameters;
  }

  /** The fields that set the parameter count, for errors about sizes. */
  sizeFields(): [string, number][] {
    const f = this.fields;
    return [['num_hidden_layers', f.num_hidden_layers], ['hidden_size', f.hidden_size], ['intermediate_size', f.intermediate_size], ['num_attention_heads', f.num_attention_heads], ['head_dim', f.head_dim], ['vocab_size', f.vocab_size]];
  }
}
