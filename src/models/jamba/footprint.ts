/**
 * What a Jamba config costs, without weights: parameters in total and active per token (a token
 * runs num_experts_per_tok of each MoE layer's experts), and the memory of the decode state at a
 * context length — the KV cache of the attention layers grows with the context, the Mamba layers'
 * conv and SSM states do not. Reproduces the paper's Table 1: at 256K tokens in 16-bit, Jamba-v0.1's
 * KV cache is 4 GB where a model with attention in all 32 layers (Mixtral) needs 32 GB.
 */
import type { JambaConfig } from './config.js';

export interface JambaFootprint {
  parameters: number;
  activeParameters: number;
  attentionLayers: number[];
  moeLayers: number[];
  /** K and V of every attention layer at `contextLength` tokens, `kvBytes` per value. */
  kvCacheBytes: number;
  /** The same for a model of this shape with attention in every layer (e.g. Mixtral for Jamba-v0.1). */
  allAttentionKvCacheBytes: number;
  /** Conv (E, K-1) and SSM (E, N) states of every Mamba layer, float32: independent of the context. */
  mambaStateBytes: number;
  contextLength: number;
  kvBytes: number;
}

export function jambaFootprint(c: JambaConfig, contextLength: number, kvBytes = 2): JambaFootprint {
  const f = c.fields;
  const H = f.hidden_size;
  const E = c.mambaInner;
  const [N, K, R, I] = [f.mamba_d_state, f.mamba_d_conv, f.mamba_dt_rank, f.intermediate_size];
  const kvDim = f.num_key_value_heads * c.headDim;
  const mamba =
    2 * E * H + (f.mamba_proj_bias ? 2 * E : 0) + // in_proj
    E * K + (f.mamba_conv_bias ? E : 0) + // conv1d
    (R + 2 * N) * E + // x_proj
    R * E + E + // dt_proj (with bias)
    E * N + E + // A_log, D
    H * E + (f.mamba_proj_bias ? H : 0) + // out_proj
    R + 2 * N; // dt, B, C RMSNorms
  const attention = 2 * H * H + 2 * kvDim * H; // q, o; k, v
  const mlp = 3 * I * H; // gate, up, down
  let total = f.vocab_size * H * (f.tie_word_embeddings ? 1 : 2) + H; // embeddings, lm_head, final norm
  let active = total;
  const attentionLayers: number[] = [];
  const moeLayers: number[] = [];
  for (let i = 0; i < f.num_hidden_layers; i++) {
    const mixer = c.mixerOf(i) === 'attention' ? attention : mamba;
    if (c.mixerOf(i) === 'attention') attentionLayers.push(i);
    const experts = c.expertsOf(i);
    const norms = 2 * H;
    if (experts > 1) {
      moeLayers.push(i);
      total += norms + mixer + experts * H + experts * mlp; // router + experts
      active += norms + mixer + experts * H + f.num_experts_per_tok * mlp;
    } else {
      total += norms + mixer + mlp;
      active += norms + mixer + mlp;
    }
  }
  const kvPerLayer = 2 * kvDim * kvBytes * contextLength;
  const mambaLayers = f.num_hidden_layers - attentionLayers.length;
  return {
    parameters: total,
    activeParameters: active,
    attentionLayers,
    moeLayers,
    kvCacheBytes: attentionLayers.length * kvPerLayer,
    allAttentionKvCacheBytes: f.num_hidden_layers * kvPerLayer,
    mambaStateBytes: mambaLayers * E * (K - 1 + N) * 4,
    contextLength,
    kvBytes,
  };
}
