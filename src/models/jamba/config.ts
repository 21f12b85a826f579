/**
 * HF `JambaConfig` (transformers/models/jamba/configuration_jamba.py): the same field names and
 * defaults, validated. Layer i is attention iff i % attn_layer_period == attn_layer_offset (else
 * Mamba); its feed-forward is a mixture of experts iff i % expert_layer_period ==
 * expert_layer_offset (else a dense SwiGLU MLP). The two schedules are independent.
 */
import { ArgumentError, FormatError } from '../../errors.js';
import { ConfigReader, GENERIC_CONFIG_FIELDS } from '../config-fields.js';
import { unknownFieldsMessage } from '../../options.js';
import { checkParameterTotal, SIZE_LIMITS as LIMIT } from '../size-limits.js';
import { jambaFootprint } from './footprint.js';

export interface JambaConfigFields {
  model_type: 'jamba';
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number; // dense MLP and every expert
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  hidden_act: 'silu';
  rms_norm_eps: number;
  tie_word_embeddings: boolean;
  router_aux_loss_coef: number;
  num_experts_per_tok: number;
  num_experts: number;
  expert_layer_period: number;
  expert_layer_offset: number;
  attn_layer_period: number;
  attn_layer_offset: number;
  mamba_d_state: number; // N
  mamba_d_conv: number; // K
  mamba_expand: number;
  mamba_dt_rank: number; // "auto" → ceil(hidden_size / 16)
  mamba_conv_bias: boolean;
  mamba_proj_bias: boolean;
  sliding_window: number | null;
  bos_token_id: number | null;
  eos_token_id: number | number[] | null;
  pad_token_id: number | null;
}

/** Fields of older or community configs that current transformers ignores (jamba.md §2.1). */
const IGNORED_FIELDS = ['n_ctx', 'mamba_inner_layernorms', 'calc_logits_for_entire_prompt', 'use_mamba_kernels', 'num_logits_to_keep',
  'output_router_logits', 'attention_dropout', 'use_associative_scan', 'use_mambapy'];

/** Fields transformers declares as floats: written as 1.0, never 1 (see hf-folder's configText). */
export const JAMBA_FLOAT_FIELDS = ['rms_norm_eps', 'router_aux_loss_coef', 'initializer_range'] as const;

export type JambaMixerKind = 'attention' | 'mamba';

export class JambaConfig {
  private constructor(
    readonly fields: JambaConfigFields,
    readonly unknownFields: string[],
    readonly raw: Record<string, unknown>,
  ) {}

  static fromJSON(raw: Record<string, unknown>, source = 'config.json'): JambaConfig {
    const r = new ConfigReader(raw, source);
    const fail = (m: string): never => {
      throw new FormatError(source, m);
    };
    const modelType = r.string('model_type', 'jamba');
    if (modelType !== 'jamba') fail(`model_type is "${modelType}", expected "jamba"`);
    const hidden = r.size('hidden_size', LIMIT.width, 4096);
    const heads = r.size('num_attention_heads', LIMIT.heads, 32);
    // HF: absent → 8 (the default), null → one KV head per query head (multi-head attention).
    const kvHeads = r.has('num_key_value_heads') ? r.size('num_key_value_heads', LIMIT.heads) : (r.known('num_key_value_heads'), raw['num_key_value_heads'] === null ? heads : 8);
    const vocab = r.size('vocab_size', LIMIT.vocab, 65536);
    const f: JambaConfigFields = {
      model_type: 'jamba',
      vocab_size: vocab,
      hidden_size: hidden,
      intermediate_size: r.size('intermediate_size', LIMIT.innerWidth, 14336),
      num_hidden_layers: r.size('num_hidden_layers', LIMIT.layers, 32),
      num_attention_heads: heads,
      num_key_value_heads: kvHeads,
      hidden_act: r.string('hidden_act', 'silu', ['silu']) as 'silu',
      rms_norm_eps: r.number('rms_norm_eps', 1e-6, (x) => x > 0, 'a positive number'),
      tie_word_embeddings: r.bool('tie_word_embeddings', false),
      router_aux_loss_coef: r.number('router_aux_loss_coef', 0.001, (x) => x >= 0, 'a number >= 0'),
      num_experts_per_tok: r.size('num_experts_per_tok', LIMIT.experts, 2),
      num_experts: r.size('num_experts', LIMIT.experts, 16),
      // Periods and offsets only pick which layers are which: safe integers, nothing is sized by them.
      expert_layer_period: r.int('expert_layer_period', 2),
      expert_layer_offset: r.int('expert_layer_offset', 1, 0),
      attn_layer_period: r.int('attn_layer_period', 8),
      attn_layer_offset: r.int('attn_layer_offset', 4, 0),
      mamba_d_state: r.size('mamba_d_state', LIMIT.stateSize, 16),
      mamba_d_conv: r.size('mamba_d_conv', LIMIT.convKernel, 4),
      mamba_expand: r.size('mamba_expand', LIMIT.expand, 2),
      mamba_dt_rank: r.rankOrAuto('mamba_dt_rank', Math.ceil(hidden / 16), LIMIT.width),
      mamba_conv_bias: r.bool('mamba_conv_bias', true),
      mamba_proj_bias: r.bool('mamba_proj_bias', false),
      sliding_window: r.has('sliding_window') ? r.int('sliding_window') : (r.known('sliding_window'), null),
      bos_token_id: r.tokenId('bos_token_id', vocab),
      eos_token_id: r.tokenIdOrList('eos_token_id', vocab),
      pad_token_id: r.tokenId('pad_token_id', vocab),
    };
    if (f.attn_layer_offset >= f.attn_layer_period) {
      fail(`fields "attn_layer_offset" (${f.attn_layer_offset}) and "attn_layer_period" (${f.attn_layer_period}) contradict: the offset must be smaller than the period`);
    }
    if (f.expert_layer_offset >= f.expert_layer_period) {
      fail(`fields "expert_layer_offset" (${f.expert_layer_offset}) and "expert_layer_period" (${f.expert_layer_period}) contradict: the offset must be smaller than the period`);
    }
    if (f.num_experts_per_tok > f.num_experts) {
      fail(`field "num_experts_per_tok" (${f.num_experts_per_tok}) exceeds "num_experts" (${f.num_experts})`);
    }
    if (f.num_attention_heads % f.num_key_value_heads !== 0) {
      fail(`field "num_attention_heads" (${f.num_attention_heads}) is not a multiple of "num_key_value_heads" (${f.num_key_value_heads})`);
    }
    if (f.hidden_size % f.num_attention_heads !== 0) {
      fail(`field "hidden_size" (${f.hidden_size}) is not a multiple of "num_attention_heads" (${f.num_attention_heads})`);
    }
    r.known(...GENERIC_CONFIG_FIELDS, ...IGNORED_FIELDS);
    const config = new JambaConfig(f, r.unknownFields(), raw);
    checkParameterTotal(config.parameterCount(), source, config.sizeFields());
    const moeLayers = jambaFootprint(config, 0).moeLayers.length;
    if (moeLayers * f.num_experts > LIMIT.expertsInAll) {
      fail(`fields "num_experts" (${f.num_experts}) × MoE layers (${moeLayers} of "num_hidden_layers" ${f.num_hidden_layers}, every "expert_layer_period" ${f.expert_layer_period}) make ${moeLayers * f.num_experts} expert MLPs, more than the ${LIMIT.expertsInAll.toLocaleString('en-US')} accepted (far beyond any released model)`);
    }
    return config;
  }

  /** A config built in code: an unknown field is a typo and an error (see MambaConfig.create). */
  static create(fields: Partial<JambaConfigFields> & { vocab_size: number }): JambaConfig {
    const c = JambaConfig.fromJSON({ model_type: 'jamba', ...fields }, 'JambaConfig');
    if (c.unknownFields.length) throw new ArgumentError(`JambaConfig: ${unknownFieldsMessage(c.unknownFields, Object.keys(c.fields))}`);
    return c;
  }

  /** The config.json to save: the original fields, overridden by the parsed ones. */
  toJSON(): Record<string, unknown> {
    return { ...this.raw, ...this.fields, architectures: ['JambaForCausalLM'] };
  }

  /** Parameters of the model this config describes, from its fields alone (see footprint.ts). */
  parameterCount(): number {
    return jambaFootprint(this, 0).parameters;
  }

  /** The fields that set the parameter count, for errors about sizes. */
  sizeFields(): [string, number][] {
    const f = this.fields;
    return [['num_hidden_layers', f.num_hidden_layers], ['num_experts', f.num_experts], ['hidden_size', f.hidden_size], ['intermediate_size', f.intermediate_size], ['vocab_size', f.vocab_size]];
  }

  get headDim(): number {
    return this.fields.hidden_size / this.fields.num_attention_heads;
  }
  get mambaInner(): number {
    return this.fields.mamba_expand * this.fields.hidden_size;
  }
  /** HF's layers_block_type. */
  mixerOf(i: number): JambaMixerKind {
    return i % this.fields.attn_layer_period === this.fields.attn_layer_offset ? 'attention' : 'mamba';
  }
  /** HF's layers_num_experts: the experts of layer i's feed-forward (1 = a dense MLP). */
  expertsOf(i: number): number {
    return i % this.fields.expert_layer_period === this.fields.expert_layer_offset ? this.fields.num_experts : 1;
  }
}
