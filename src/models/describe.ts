/** A summary of a Mamba model for `mamba-ts info`, from its config alone (nothing is built). */
import type { MambaConfig } from './mamba/config.js';

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

/** A Mamba config (Jamba is described by jamba/footprint.ts); `raw` is its config.json, for the stored dtype. */
export function describeModel(config: MambaConfig, raw: Record<string, unknown>): ModelDescription {
  const f = config.fields;
  const params = config.parameterCount();
  const stored = raw['torch_dtype'] ?? raw['dtype'] ?? 'float32';
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
    storedDtype: typeof stored === 'string' ? stored.slice(0, 40) : 'float32',
    decodeStateBytesPerSequence: config.decodeStateBytes(),
    details: [
      ['mixer', `d_inner ${f.intermediate_size}, d_state N ${f.state_size}, d_conv K ${f.conv_kernel}, dt_rank R ${f.time_step_rank}`],
      ['state per layer', `conv (${f.intermediate_size}, ${f.conv_kernel - 1}) + ssm (${f.intermediate_size}, ${f.state_size}) floats`],
    ],
    unknownConfigFields: config.unknownFields,
  };
}
