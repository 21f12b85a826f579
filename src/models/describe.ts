/** A summary of a loaded model for `mamba-ts info`. */
import type { MambaForCausalLM } from './mamba/modeling.js';

export interface ModelDescription {
  architecture: string;
  modelType: string;
  parameters: number;
  tiedEmbeddings: boolean;
  hiddenSize: number;
  vocabSize: number;
  numLayers: number;
  layerLayout: string;
  weightBytes: number;
  storedDtype: string;
  decodeStateBytesPerSequence: number;
  details: [string, string][];
  unknownConfigFields: string[];
}

/** A loaded Mamba (Jamba is described from its config: see jamba/footprint.ts). */
export function describeModel(model: MambaForCausalLM, raw: Record<string, unknown>): ModelDescription {
  const f = model.config.fields;
  const convState = f.intermediate_size * (f.conv_kernel - 1);
  const ssmState = f.intermediate_size * f.state_size;
  const params = model.parameterCount();
  return {
    architecture: 'MambaForCausalLM',
    modelType: f.model_type,
    parameters: params,
    tiedEmbeddings: f.tie_word_embeddings,
    hiddenSize: f.hidden_size,
    vocabSize: f.vocab_size,
    numLayers: f.num_hidden_layers,
    layerLayout: `${f.num_hidden_layers} × [RMSNorm → Mamba mixer (S6) → residual]`,
    weightBytes: params * 4,
    storedDtype: String(raw['torch_dtype'] ?? raw['dtype'] ?? 'float32'),
    decodeStateBytesPerSequence: f.num_hidden_layers * (convState + ssmState) * 4,
    details: [
      ['mixer', `d_inner ${f.intermediate_size}, d_state N ${f.state_size}, d_conv K ${f.conv_kernel}, dt_rank R ${f.time_step_rank}`],
      ['state per layer', `conv (${f.intermediate_size}, ${f.conv_kernel - 1}) + ssm (${f.intermediate_size}, ${f.state_size}) floats`],
    ],
    unknownConfigFields: model.config.unknownFields,
  };
}
