/**
 * The language models `mamba-ts train` can train, chosen by the training config's
 * `model.model_type`: "mamba" (the default), "mamba2" or "jamba". All take token ids and labels and return
 * HF's loss (Jamba's includes router_aux_loss_coef · the load-balancing loss, and its output the
 * token-slots each expert received).
 */
import type { DeviceName } from '../backend/registry.js';
import { ArgumentError } from '../errors.js';
import { JambaConfig } from '../models/jamba/config.js';
import { initJambaWeights } from '../models/jamba/init.js';
import { JambaForCausalLM } from '../models/jamba/modeling.js';
import { MambaConfig } from '../models/mamba/config.js';
import { initMambaWeights } from '../models/mamba/init.js';
import { MambaForCausalLM } from '../models/mamba/modeling.js';
import { Mamba2Config } from '../models/mamba2/config.js';
import { initMamba2Weights } from '../models/mamba2/init.js';
import { Mamba2ForCausalLM } from '../models/mamba2/modeling.js';
import { quoteForMessage } from '../quote.js';

export type TrainableLM = MambaForCausalLM | JambaForCausalLM | Mamba2ForCausalLM;

/** Builds and initialises the model the config asks for; `vocab` is the corpus' unless set. */
export function buildLanguageModel(fields: Record<string, unknown>, vocab: number, seed: number, device: DeviceName): TrainableLM {
  const type = fields['model_type'] ?? 'mamba';
  if (type === 'mamba') {
    const config = MambaConfig.create({ hidden_size: 64, num_hidden_layers: 2, ...fields, vocab_size: vocab } as Parameters<typeof MambaConfig.create>[0]);
    const model = new MambaForCausalLM(config);
    initMambaWeights(model, seed, device);
    return model;
  }
  if (type === 'jamba') {
    const config = JambaConfig.create({ ...fields, vocab_size: vocab } as Parameters<typeof JambaConfig.create>[0]);
    const model = new JambaForCausalLM(config);
    initJambaWeights(model, seed, device);
    return model;
  }
  if (type === 'mamba2') {
    // A small model by default, as for "mamba"; one group of B/C (HF's default of 8 rarely divides a small model's heads).
    const config = Mamba2Config.create({ hidden_size: 64, num_hidden_layers: 2, n_groups: 1, ...fields, vocab_size: vocab } as Parameters<typeof Mamba2Config.create>[0]);
    const model = new Mamba2ForCausalLM(config);
    initMamba2Weights(model, seed, device);
    return model;
  }
  throw new ArgumentError(`train: model.model_type ${quoteForMessage(type)} cannot be trained here; expected "mamba", "mamba2" or "jamba"`);
}
