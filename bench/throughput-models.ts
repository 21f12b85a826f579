/**
 * The models of the throughput benchmark (issue 15), as configs: random weights, no downloads.
 * scripts/hf_throughput.py builds the same shapes with transformers; keep the two in step.
 *
 * - mamba: the Mamba paper's 130M and 1.4B shapes (d_model 768 × 24 layers, 2048 × 48; vocab 50280).
 * - llama: the Transformer baseline of the same size, GPT-3-like depth (12 layers at 768, 24 at
 *   2048), multi-head attention, SwiGLU width chosen so the parameter count is Mamba's within 0.3%.
 * - jamba: 1:7 (one attention layer in eight), MoE with 8 experts, top 2, in every other layer,
 *   16 layers, 4 KV heads; MLP width chosen so the parameters active per token match Mamba's.
 * - mamba2: Mamba-2 at Mamba's depth and width (mamba2-130m / mamba2-1.3b's shapes: heads of 64,
 *   state 128, one group, chunks of 256), for its prefill and decode tokens/s beside Mamba's.
 * - llama-attn: for the long-context sweep, Jamba's shape with attention in all 16 layers (the
 *   same heads and KV heads, dense MLP), its width chosen to match Jamba's active parameters: the
 *   all-attention model of the same active size, as Mixtral is to Jamba in the Jamba paper.
 *
 * Tied embeddings everywhere (Mamba's default), so that the vocabulary counts once in every model.
 */
import type { DeviceName } from '../src/backend/registry.js';
import type { CausalLM, DecodeCache } from '../src/generation/causal-lm.js';
import { JambaConfig } from '../src/models/jamba/config.js';
import { jambaFootprint } from '../src/models/jamba/footprint.js';
import { initJambaWeights } from '../src/models/jamba/init.js';
import { JambaForCausalLM } from '../src/models/jamba/modeling.js';
import { LlamaConfig } from '../src/models/llama/config.js';
import { llamaFootprint } from '../src/models/llama/footprint.js';
import { initLlamaWeights } from '../src/models/llama/init.js';
import { LlamaForCausalLM } from '../src/models/llama/modeling.js';
import { MambaConfig } from '../src/models/mamba/config.js';
import { initMambaWeights } from '../src/models/mamba/init.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { Mamba2Config } from '../src/models/mamba2/config.js';
import { initMamba2Weights } from '../src/models/mamba2/init.js';
import { Mamba2ForCausalLM } from '../src/models/mamba2/modeling.js';

export const SIZES = ['130m', '1.4b'] as const;
export type SizeName = (typeof SIZES)[number];
export const MODEL_NAMES = ['mamba', 'llama', 'jamba', 'llama-attn', 'mamba2'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

const VOCAB = 50280;

interface Shape {
  hidden: number;
  mambaLayers: number;
  heads: number;
  llamaLayers: number;
  llamaIntermediate: number;
  jambaKvHeads: number;
  jambaIntermediate: number;
  attnIntermediate: number;
}

/** Widths found by matching parameter counts (see the file comment); printed by the bench. */
const SHAPES: Record<SizeName, Shape> = {
  '130m': { hidden: 768, mambaLayers: 24, heads: 12, llamaLayers: 12, llamaIntermediate: 2240, jambaKvHeads: 4, jambaIntermediate: 640, attnIntermediate: 1792 },
  '1.4b': { hidden: 2048, mambaLayers: 48, heads: 16, llamaLayers: 24, llamaIntermediate: 5888, jambaKvHeads: 4, jambaIntermediate: 5952, attnIntermediate: 11200 },
};

const JAMBA_LAYERS = 16;

/** A model of the bench, built and initialised on a device, with what its decode state costs. */
export interface BenchModel {
  name: ModelName;
  lm: CausalLM<DecodeCache>;
  parameters: number;
  activeParameters: number;
  /** The decode state of `batch` sequences of `tokens` tokens, float32 (what the caches hold). */
  cacheBytes(batch: number, tokens: number): { total: number; kv: number; mambaState: number };
  /** The config's fields, for the record. */
  config: Record<string, unknown>;
  dispose(): void;
}

export function mambaConfig(size: SizeName, vocab = VOCAB): MambaConfig {
  const s = SHAPES[size];
  return MambaConfig.create({ hidden_size: s.hidden, num_hidden_layers: s.mambaLayers, vocab_size: vocab, use_bias: false, tie_word_embeddings: true });
}

export function mamba2Config(size: SizeName): Mamba2Config {
  const s = SHAPES[size];
  return Mamba2Config.create({
    hidden_size: s.hidden,
    num_hidden_layers: s.mambaLayers,
    vocab_size: VOCAB,
    head_dim: 64,
    state_size: 128,
    n_groups: 1,
    chunk_size: 256,
    tie_word_embeddings: true,
    bos_token_id: null,
    eos_token_id: null,
    pad_token_id: null,
  });
}

export function llamaConfig(size: SizeName, name: 'llama' | 'llama-attn'): LlamaConfig {
  const s = SHAPES[size];
  const attn = name === 'llama-attn';
  return LlamaConfig.create({
    vocab_size: VOCAB,
    hidden_size: s.hidden,
    num_hidden_layers: attn ? JAMBA_LAYERS : s.llamaLayers,
    num_attention_heads: s.heads,
    num_key_value_heads: attn ? s.jambaKvHeads : s.heads,
    intermediate_size: attn ? s.attnIntermediate : s.llamaIntermediate,
    tie_word_embeddings: true,
    max_position_embeddings: 131072 + 4096,
    bos_token_id: null,
    eos_token_id: null,
    pad_token_id: null,
  });
}

export function jambaConfig(size: SizeName, vocab = VOCAB): JambaConfig {
  const s = SHAPES[size];
  return JambaConfig.create({
    vocab_size: vocab,
    hidden_size: s.hidden,
    intermediate_size: s.jambaIntermediate,
    num_hidden_layers: JAMBA_LAYERS,
    num_attention_heads: s.heads,
    num_key_value_heads: s.jambaKvHeads,
    num_experts: 8,
    num_experts_per_tok: 2,
    expert_layer_period: 2,
    expert_layer_offset: 1,
    attn_layer_period: 8,
    attn_layer_offset: 4,
    mamba_d_state: 16,
    mamba_d_conv: 4,
    mamba_expand: 2,
    tie_word_embeddings: true,
    bos_token_id: null,
    eos_token_id: null,
    pad_token_id: null,
  });
}

const F32 = 4;

/**
 * Builds `name` at `size` with random weights (seed 0) on `device`. `vocab` replaces the
 * vocabulary of Mamba and Jamba (bench/record-cost.ts: one that fits lavapipe's binding limit).
 */
export function buildModel(name: ModelName, size: SizeName, device: DeviceName, vocab = VOCAB): BenchModel {
  if (name === 'mamba') {
    const config = mambaConfig(size, vocab);
    const model = new MambaForCausalLM(config);
    initMambaWeights(model, 0, device);
    const f = config.fields;
    const perSequence = f.num_hidden_layers * f.intermediate_size * (f.conv_kernel - 1 + f.state_size) * F32;
    return {
      name,
      lm: model,
      parameters: config.parameterCount(),
      activeParameters: config.parameterCount(),
      cacheBytes: (batch) => ({ total: batch * perSequence, kv: 0, mambaState: batch * perSequence }),
      config: config.toJSON(),
      dispose: () => model.dispose(),
    };
  }
  if (name === 'mamba2') {
    const config = mamba2Config(size);
    const model = new Mamba2ForCausalLM(config);
    initMamba2Weights(model, 0, device);
    const f = config.fields;
    const E = f.num_heads * f.head_dim;
    const perSequence = f.num_hidden_layers * (E * f.state_size + (E + 2 * f.n_groups * f.state_size) * (f.conv_kernel - 1)) * F32;
    return {
      name,
      lm: model,
      parameters: config.parameterCount(),
      activeParameters: config.parameterCount(),
      cacheBytes: (batch) => ({ total: batch * perSequence, kv: 0, mambaState: batch * perSequence }),
      config: config.toJSON(),
      dispose: () => model.dispose(),
    };
  }
  if (name === 'jamba') {
    const config = jambaConfig(size, vocab);
    const model = new JambaForCausalLM(config);
    initJambaWeights(model, 0, device);
    const fp = jambaFootprint(config, 0);
    return {
      name,
      lm: model,
      parameters: fp.parameters,
      activeParameters: fp.activeParameters,
      cacheBytes: (batch, tokens) => {
        const at = jambaFootprint(config, tokens, F32);
        return { total: batch * (at.kvCacheBytes + at.mambaStateBytes), kv: batch * at.kvCacheBytes, mambaState: batch * at.mambaStateBytes };
      },
      config: config.toJSON(),
      dispose: () => model.dispose(),
    };
  }
  const config = llamaConfig(size, name);
  const model = new LlamaForCausalLM(config);
  initLlamaWeights(model, 0, device);
  const parameters = config.parameterCount();
  return {
    name,
    lm: model,
    parameters,
    activeParameters: parameters,
    cacheBytes: (batch, tokens) => {
      const kv = batch * llamaFootprint(config, tokens, F32).kvCacheBytes;
      return { total: kv, kv, mambaState: 0 };
    },
    config: config.toJSON(),
    dispose: () => model.dispose(),
  };
}
