/**
 * The parameter counts computed from configs alone (what sizes a config before anything is built:
 * its bounds, `mamba-ts info`, the check against a weights file) equal the built modules' counts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DLinear, dlinearParameterCount, parseDLinearConfig } from '../src/models/dlinear/model.js';
import { JambaConfig } from '../src/models/jamba/config.js';
import { JambaForCausalLM } from '../src/models/jamba/modeling.js';
import { LlamaConfig } from '../src/models/llama/config.js';
import { LlamaForCausalLM } from '../src/models/llama/modeling.js';
import { MambaConfig } from '../src/models/mamba/config.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { parseTSM2Config, tsm2ParameterCount } from '../src/models/mambamixer/tsm2/config.js';
import { TSM2 } from '../src/models/mambamixer/tsm2/model.js';
import { Vim2Config } from '../src/models/mambamixer/vim2-config.js';
import { describeVim2 } from '../src/models/mambamixer/vim2-describe.js';
import { Vim2ForImageClassification } from '../src/models/mambamixer/vim2.js';

const MAMBA = { model_type: 'mamba', hidden_size: 16, num_hidden_layers: 2, vocab_size: 32 };
const JAMBA = { model_type: 'jamba', hidden_size: 16, intermediate_size: 24, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2, num_experts: 4, vocab_size: 32 };
const TSM2_CONFIG = { model_type: 'tsm2', lookback: 32, horizon: 8, n_vars: 3, d_model: 8, patch_len: 8, patch_stride: 4 };

describe('parameter counts from the config alone equal the built modules', () => {
  test('Mamba', () => {
    for (const extra of [{}, { use_bias: true, tie_word_embeddings: false, use_conv_bias: false, time_step_rank: 3, state_size: 5, conv_kernel: 3 }]) {
      const c = MambaConfig.create({ ...MAMBA, ...extra } as Parameters<typeof MambaConfig.create>[0]);
      assert.equal(c.parameterCount(), new MambaForCausalLM(c).parameterCount());
    }
  });
  test('Jamba', () => {
    for (const extra of [{}, { tie_word_embeddings: true, mamba_proj_bias: true, num_hidden_layers: 9, attn_layer_period: 3, attn_layer_offset: 1 }]) {
      const c = JambaConfig.fromJSON({ ...JAMBA, ...extra });
      assert.equal(c.parameterCount(), new JambaForCausalLM(c).parameterCount());
    }
  });
  test('Llama', () => {
    const base = { model_type: 'llama', hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 32 };
    for (const extra of [{}, { tie_word_embeddings: true, attention_bias: true, mlp_bias: true, head_dim: 6, num_key_value_heads: 1 }]) {
      const c = LlamaConfig.fromJSON({ ...base, ...extra });
      assert.equal(c.parameterCount(), new LlamaForCausalLM(c).parameterCount());
    }
  });
  test('TSM2 and DLinear', () => {
    for (const extra of [{}, { revin: false, n_layers: 3, expand: 3, d_state: 5, d_conv: 2 }]) {
      const c = parseTSM2Config({ ...TSM2_CONFIG, ...extra }, 'c.json');
      assert.equal(tsm2ParameterCount(c), new TSM2(c).parameterCount());
    }
    const d = parseDLinearConfig({ lookback: 24, horizon: 6, n_vars: 2 }, 'c.json');
    assert.equal(dlinearParameterCount(d), new DLinear(d).parameterCount());
  });
  test('ViM2, per part', () => {
    for (const c of [Vim2Config.preset('mnist', { image_size: 30, patch_size: 3 }), Vim2Config.preset('tiny')]) {
      const d = describeVim2(c.toJSON(), 'c.json');
      const m = new Vim2ForImageClassification(c);
      assert.equal(d.parameters, m.parameterCount());
      const parts: Record<string, number> = {};
      for (const [name, p] of m.namedParameters()) {
        const part = name.startsWith('stages.') ? name.split('.').slice(0, 2).join('.') : name.split('.')[0]!;
        parts[part] = (parts[part] ?? 0) + p.shape.reduce((a, b) => a * b, 1);
      }
      assert.deepEqual(d.parts, parts);
    }
  });
});

