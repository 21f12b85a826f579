/**
 * HF `JambaConfig` (transformers/models/jamba/configuration_jamba.py): the same field names and
 * defaults, validated. Layer i is attention iff i % attn_layer_period == attn_layer_offset (else
 * Mamba); its feed-forward is a mixture of experts iff i % expert_layer_period ==
 * expert_layer_offset (else a dense SwiGLU MLP). The two schedules are independent.
 */
import { ArgumentError, FormatError } from '../../errors.js';
import { ConfigReader, GENERIC_CONFIG_FIELDS } from '../config-fields.js';
import { unknownFieldsMessage } from '../../options.js';

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
    const hidden = r.int('hidden_size', 4096);
    const heads = r.int('num_attention_heads', 32);
    // HF: absent → 8 (the default), null → one KV head per query head (multi-head attention).
    const kvHeads = r.has('num_key_value_heads') ? r.int('num_key_value_heads') : (r.known('num_key_value_heads'), raw['num_key_value_heads'] === null ? heads : 8);
    const rankRaw = raw['mamba_dt_rank'];
    r.known('mamba_dt_rank');
    let dtRank: number;
    if (rankRaw === undefined || rankRaw === null || rankRaw === 'auto') dtRank = Math.ceil(hidden / 16);
    else if (typeof rankRaw === 'number' && Number.isInteger(rankRaw) && rankRaw >= 1) dtRank = rankRaw;
    else fail(`field "mamba_dt_rank": expected "auto" or an integer >= 1, got ${JSON.stringify(rankRaw)}`);
    const f: JambaConfigFields = {
      model_type: 'jamba',
      vocab_size: r.int('vocab_size', 65536),
      hidden_size: hidden,
      intermediate_size: r.int('intermediate_size', 14336),
      num_hidden_layers: r.int('num_hidden_layers', 32),
      num_attention_heads: heads,
      num_key_value_heads: kvHeads,
      hidden_act: r.string('hidden_act', 'silu', ['silu']) as 'silu',
      rms_norm_eps: r.number('rms_norm_eps', 1e-6, (x) => x > 0, 'a positive number'),
      tie_word_embeddings: r.bool('tie_word_embeddings', false),
      router_aux_loss_coef: r.number('router_aux_loss_coef', 0.001, (x) => x >= 0, 'a number >= 0'),
      num_experts_per_tok: r.int('num_experts_per_tok', 2),
      num_experts: r.int('num_experts', 16),
      expert_layer_period: r.int('expert_layer_period', 2),
      expert_layer_offset: r.int('expert_layer_offset', 1, 0),
      attn_layer_period: r.int('attn_layer_period', 8),
      attn_layer_offset: r.int('attn_layer_offset', 4, 0),
      mamba_d_state: r.int('mamba_d_state', 16),
      mamba_d_conv: r.int('mamba_d_conv', 4),
      mamba_expand: r.int('mamba_expand', 2),
      mamba_dt_rank: dtRank!,
      mamba_conv_bias: r.bool('mamba_conv_bias', true),
      mamba_proj_bias: r.bool('mamba_proj_bias', false),
      sliding_window: r.has('sliding_window') ? r.int('sliding_window') : (r.known('sliding_window'), null),
      bos_token_id: r.has('bos_token_id') ? r.int('bos_token_id', undefined, 0) : null,
      eos_token_id: r.intOrList('eos_token_id'),
      pad_token_id: r.has('pad_token_id') ? r.int('pad_token_id', undefined, 0) : null,
    };
    r.known('bos_token_id', 'pad_token_id');
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
    return new JambaConfig(f, r.unknownFields(), raw);
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
