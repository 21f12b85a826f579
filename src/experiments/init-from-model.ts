/**
 * A synthetic experiment's `initFrom`: start training from a trained model's weights (a length
 * curriculum) instead of the seed's initialisation. The folder's model must be the experiment's
 * architecture, the selective/LTI switch included: an S6 model's weights in an LTI run (or the
 * reverse) would load without a shape error and silently train another model.
 */
import { FormatError } from '../errors.js';
import { readJsonObject, JSON_MAX_BYTES } from '../io/json.js';
import { exists, joinPath } from '../io/platform.js';
import { MambaConfig, type MambaConfigFields } from '../models/mamba/config.js';
import type { MambaForCausalLM } from '../models/mamba/modeling.js';
import { loadParametersFromFolder } from '../models/pretrained.js';

/** The fields that change what the weights compute (not the initialisation's or the tokens'). */
const ARCHITECTURE_FIELDS: readonly (keyof MambaConfigFields)[] = [
  'hidden_size', 'intermediate_size', 'num_hidden_layers', 'state_size', 'conv_kernel', 'time_step_rank', 'vocab_size',
  'expand', 'use_bias', 'use_conv_bias', 'hidden_act', 'residual_in_fp32', 'tie_word_embeddings', 'layer_norm_epsilon', 'selective',
];

/** Loads `dir`'s weights (config.json + model.safetensors) into `model`, refusing another architecture by field. */
export async function initFromModel(model: MambaForCausalLM, dir: string): Promise<void> {
  const file = joinPath(dir, 'config.json');
  if (!(await exists(file))) {
    throw new FormatError(dir, `"initFrom": expected the folder of a trained model (its config.json and model.safetensors), as an experiment's outDir/model or models/selective-copying-1056-s6`);
  }
  const raw = await readJsonObject(file, { maxBytes: JSON_MAX_BYTES.config, what: 'the config.json of "initFrom"' });
  const type = raw['model_type'];
  if (type !== 'mamba') {
    throw new FormatError(file, `model_type ${type === undefined ? 'missing' : JSON.stringify(type)}: "initFrom" expects a Mamba model (model_type "mamba") like the experiment's`);
  }
  const theirs = MambaConfig.fromJSON(raw, file).fields;
  const mine = model.config.fields;
  const differ = ARCHITECTURE_FIELDS.filter((k) => JSON.stringify(theirs[k]) !== JSON.stringify(mine[k]));
  if (differ.length) {
    const what = differ.map((k) => `${k} is ${JSON.stringify(theirs[k])} there but ${JSON.stringify(mine[k])} in the experiment`).join('; ');
    throw new FormatError(file, `"initFrom": not the experiment's architecture (${what})`);
  }
  await loadParametersFromFolder(model, dir, {
    device: model.device as 'cpu' | 'webgpu',
    ignore: mine.tie_word_embeddings ? ['lm_head.weight'] : [],
    // As MambaForCausalLM.fromPretrained: original mamba_ssm checkpoints name the embedding so.
    renames: [['backbone.embedding.', 'backbone.embeddings.']],
    halfWeights: false,
  });
}
