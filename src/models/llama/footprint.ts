/**
 * What a Llama config costs, without weights: its parameters, and the memory of its decode state —
 * a KV cache that grows by the same number of bytes with every token of every sequence (where a
 * Mamba layer's state stays constant).
 */
import type { LlamaConfig } from './config.js';

export interface LlamaFootprint {
  parameters: number;
  /** K and V of every layer for one token of one sequence, `kvBytes` per value. */
  kvCacheBytesPerToken: number;
  /** The KV cache of one sequence at `contextLength` tokens. */
  kvCacheBytes: number;
  contextLength: number;
  kvBytes: number;
}

export function llamaFootprint(c: LlamaConfig, contextLength: number, kvBytes = 2): LlamaFootprint {
  const f = c.fields;
  const H = f.hidden_size;
  const q = f.num_attention_heads * f.head_dim;
  const kv = f.num_key_value_heads * f.head_dim;
  const attention = H * q + 2 * H * kv + q * H + (f.attention_bias ? q + 2 * kv + H : 0); // q, k, v, o
  const mlp = 3 * H * f.intermediate_size + (f.mlp_bias ? 2 * f.intermediate_size + H : 0); // gate, up, down
  const layer = 2 * H + attention + mlp; // and two RMSNorms
  const parameters = f.vocab_size * H * (f.tie_word_embeddings ? 1 : 2) + H + f.num_hidden_layers * layer;
  const perToken = f.num_hidden_layers * 2 * kv * kvBytes;
  return { parameters, kvCacheBytesPerToken: perToken, kvCacheBytes: perToken * contextLength, contextLength, kvBytes };
}
