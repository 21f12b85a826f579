/**
 * Initialisation of a Llama model for training from scratch, as HF's LlamaPreTrainedModel
 * _init_weights: every Linear and the embedding from N(0, initializer_range), biases 0, every
 * RMSNorm 1. (HF also zeroes the pad token's embedding row; a row that is never a target or an
 * input stays unused either way, so this leaves it random.)
 */
import type { DeviceName } from '../../backend/registry.js';
import type { Linear } from '../../nn/layers.js';
import type { RMSNorm } from '../../nn/layers.js';
import { filled, RandomSource, randomNormal } from '../../ops/random.js';
import type { LlamaForCausalLM } from './modeling.js';

export function initLlamaWeights(model: LlamaForCausalLM, seed = 0, device?: DeviceName): void {
  const rng = new RandomSource(seed);
  const std = model.config.fields.initializer_range;
  const o = { device };
  const linear = (l: Linear) => {
    l.weight.set(randomNormal(l.weight.shape, std, rng, o));
    l.bias?.set(filled(l.bias.shape, 0, o));
  };
  const norm = (n: RMSNorm) => n.weight.set(filled(n.weight.shape, 1, o));
  model.model.embed_tokens.weight.set(randomNormal(model.model.embed_tokens.weight.shape, std, rng, o));
  for (const layer of model.model.layers) {
    norm(layer.input_layernorm);
    norm(layer.post_attention_layernorm);
    const a = layer.self_attn;
    for (const p of [a.q_proj, a.k_proj, a.v_proj, a.o_proj]) linear(p);
    for (const p of [layer.mlp.gate_proj, layer.mlp.up_proj, layer.mlp.down_proj]) linear(p);
  }
  norm(model.model.norm);
  if (model.lm_head) linear(model.lm_head);
}
