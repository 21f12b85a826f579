/** A summary of a Mamba-2 model for `mamba-ts info`, from its config alone (nothing is built). */
import type { ModelDescription } from '../describe.js';
import type { Mamba2Config } from './config.js';

/** `raw` is its config.json, for the stored dtype. */
export function describeMamba2(config: Mamba2Config, raw: Record<string, unknown>): ModelDescription {
  const f = config.fields;
  const params = config.parameterCount();
  const stored = raw['torch_dtype'] ?? raw['dtype'] ?? 'float32';
  const E = config.intermediateSize;
  return {
    architecture: 'Mamba2ForCausalLM',
    modelType: f.model_type,
    parameters: params,
    tiedEmbeddings: f.tie_word_embeddings,
    hiddenSize: f.hidden_size,
    vocabSize: f.vocab_size,
    numLayers: f.num_hidden_layers,
    layerLayout: `${f.num_hidden_layers} × [RMSNorm → Mamba-2 mixer (SSD) → residual]`,
    weightBytes: params * 4,
    storedDtype: typeof stored === 'string' ? stored.slice(0, 40) : 'float32',
    decodeStateBytesPerSequence: config.decodeStateBytes(),
    details: [
      ['mixer', `d_inner ${E} = ${f.num_heads} heads × head_dim ${f.head_dim}, d_state N ${f.state_size}, ${f.n_groups} group(s) of B/C, d_conv K ${f.conv_kernel}, chunk ${f.chunk_size}`],
      ['state per layer', `conv (${config.convDim}, ${f.conv_kernel - 1}) + ssm (${f.num_heads}, ${f.head_dim}, ${f.state_size}) floats`],
    ],
    unknownConfigFields: config.unknownFields,
  };
}
