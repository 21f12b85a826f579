/**
 * Checkpoints of AI21's remote-code Jamba (trust_remote_code, before transformers 4.40 took Jamba in,
 * May 2024; many early fine-tunes) name some tensors differently (jamba.md §2.9). Loading maps
 * them to the in-library names; the renames are no-ops on in-library checkpoints.
 *
 *   legacy                                   in-library
 *   layers.{i}.moe.router / .experts.{e}.*   layers.{i}.feed_forward.router / .experts.{e}.*   (MoE layers)
 *   layers.{i}.moe.experts.0.*               layers.{i}.feed_forward.*                          (dense layers)
 *   layers.{i}.pre_moe_layernorm             layers.{i}.pre_ff_layernorm
 *   layers.{i}.mamba.B_layernorm / C_layernorm   layers.{i}.mamba.b_layernorm / c_layernorm
 *
 * (dt_layernorm kept its name.) The legacy config's extra fields (n_ctx, mamba_inner_layernorms,
 * calc_logits_for_entire_prompt, auto_map) are ignored by JambaConfig.
 */
import type { JambaConfig } from './config.js';

/** Checkpoint-prefix → our-prefix renames for every layer of this config (see LoadOptions.renames). */
export function legacyRenames(c: JambaConfig): [string, string][] {
  const renames: [string, string][] = [];
  for (let i = 0; i < c.fields.num_hidden_layers; i++) {
    const at = `model.layers.${i}.`;
    // Dense layers stored their one MLP as expert 0 of a one-expert "moe".
    renames.push(c.expertsOf(i) > 1 ? [`${at}moe.`, `${at}feed_forward.`] : [`${at}moe.experts.0.`, `${at}feed_forward.`]);
    renames.push([`${at}pre_moe_layernorm.`, `${at}pre_ff_layernorm.`]);
    renames.push([`${at}mamba.B_layernorm.`, `${at}mamba.b_layernorm.`]);
    renames.push([`${at}mamba.C_layernorm.`, `${at}mamba.c_layernorm.`]);
  }
  return renames;
}
