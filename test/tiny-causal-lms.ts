/** Tiny random causal LMs of each family, for generation tests on every backend. */
import type { DeviceName } from '../src/backend/registry.js';
import type { CausalLM } from '../src/generation/causal-lm.js';
import { JambaConfig } from '../src/models/jamba/config.js';
import { initJambaWeights } from '../src/models/jamba/init.js';
import { JambaForCausalLM } from '../src/models/jamba/modeling.js';
import { LlamaConfig } from '../src/models/llama/config.js';
import { initLlamaWeights } from '../src/models/llama/init.js';
import { LlamaForCausalLM } from '../src/models/llama/modeling.js';
import { MambaConfig } from '../src/models/mamba/config.js';
import { initMambaWeights } from '../src/models/mamba/init.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { Mamba2Config } from '../src/models/mamba2/config.js';
import { initMamba2Weights } from '../src/models/mamba2/init.js';
import { Mamba2ForCausalLM } from '../src/models/mamba2/modeling.js';

export const TINY_FAMILIES = ['mamba', 'llama', 'jamba', 'mamba2'] as const;
export type TinyFamily = (typeof TINY_FAMILIES)[number];

export const V = 61;

export function buildTiny(family: TinyFamily, device: DeviceName): CausalLM & { dispose(): void } {
  if (family === 'mamba') {
    const m = new MambaForCausalLM(MambaConfig.create({ hidden_size: 32, state_size: 8, num_hidden_layers: 2, vocab_size: V }));
    initMambaWeights(m, 3, device);
    return m;
  }
  if (family === 'mamba2') {
    const m = new Mamba2ForCausalLM(Mamba2Config.create({ hidden_size: 32, head_dim: 16, n_groups: 2, state_size: 8, chunk_size: 4, num_hidden_layers: 2, vocab_size: V, pad_token_id: 0 }));
    initMamba2Weights(m, 3, device);
    return m;
  }
  if (family === 'llama') {
    const m = new LlamaForCausalLM(
      LlamaConfig.create({ vocab_size: V, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 48, pad_token_id: 0, bos_token_id: null, eos_token_id: null }),
    );
    initLlamaWeights(m, 3, device);
    return m;
  }
  const m = new JambaForCausalLM(
    JambaConfig.create({
      vocab_size: V, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2, num_experts: 4,
      num_experts_per_tok: 2, expert_layer_period: 2, expert_layer_offset: 1, attn_layer_period: 2, attn_layer_offset: 1, mamba_d_state: 8,
      mamba_d_conv: 4, mamba_expand: 2, mamba_dt_rank: 4, pad_token_id: 0, bos_token_id: null, eos_token_id: null,
    }),
  );
  initJambaWeights(m, 3, device);
  return m;
}

