/**
 * Initialisation of a Jamba model for training from scratch. HF's `JambaPreTrainedModel` draws
 * every Linear from N(0, initializer_range) and leaves the Mamba mixers' dt at PyTorch defaults;
 * we initialise the Mamba layers as mamba_ssm does (the same choice as for Mamba, see
 * models/mamba/init.ts), and the rest as PyTorch's defaults with the GPT-2 residual rule:
 * - embeddings N(0, 0.02); every norm 1;
 * - q/k/v, router, gate/up projections U(±1/√fan_in);
 * - o_proj, down_proj (and the mixers' out_proj) scaled by a further 1/√n_layers.
 */
import type { DeviceName } from '../../backend/registry.js';
import type { Linear } from '../../nn/layers.js';
import { JambaMLP, SparseMoE } from '../../nn/moe.js';
import { filled, RandomSource, randomNormal, randomUniform } from '../../ops/random.js';
import { initMambaMixerWeights, MAMBA_SSM_DT_INIT } from '../mamba/init.js';
import type { JambaForCausalLM } from './modeling.js';

export function initJambaWeights(model: JambaForCausalLM, seed = 0, device?: DeviceName): void {
  const rng = new RandomSource(seed);
  const f = model.config.fields;
  const o = { device };
  const layers = f.num_hidden_layers;
  const linear = (l: Linear, scale = 1) => {
    const b = scale / Math.sqrt(l.weight.shape[1]!);
    l.weight.set(randomUniform(l.weight.shape, -b, b, rng, o));
    l.bias?.set(filled(l.bias.shape, 0, o));
  };
  const mlp = (m: JambaMLP) => {
    linear(m.gate_proj);
    linear(m.up_proj);
    linear(m.down_proj, 1 / Math.sqrt(layers));
  };
  model.model.embed_tokens.weight.set(randomNormal(model.model.embed_tokens.weight.shape, 0.02, rng, o));
  for (const layer of model.model.layers) {
    for (const norm of [layer.input_layernorm, layer.pre_ff_layernorm]) norm.weight.set(filled(norm.weight.shape, 1, o));
    if (layer.self_attn) {
      const a = layer.self_attn;
      for (const p of [a.q_proj, a.k_proj, a.v_proj]) linear(p);
      linear(a.o_proj, 1 / Math.sqrt(layers));
    } else {
      initMambaMixerWeights(layer.mamba!, MAMBA_SSM_DT_INIT, layers, rng, device);
    }
    const ff = layer.feed_forward;
    if (ff instanceof SparseMoE) {
      linear(ff.router);
      ff.experts.forEach(mlp);
    } else {
      mlp(ff);
    }
  }
  model.model.final_layernorm.weight.set(filled(model.model.final_layernorm.weight.shape, 1, o));
  if (model.lm_head) linear(model.lm_head);
}
