/**
 * The Node half of the Llama round trip with HuggingFace transformers (scripts/llama_roundtrip.py
 * runs it where PyTorch and transformers are installed):
 *   node scripts/llama-roundtrip.mjs save DIR     mamba-ts saves random Llamas to DIR/<variant>
 *                                                 (GQA with biases and a head_dim of its own; tied
 *                                                 embeddings with llama3 RoPE scaling), each with its
 *                                                 logits of a fixed batch in mamba_ts_logits.json
 *   node scripts/llama-roundtrip.mjs compare DIR  loads what transformers saved in DIR and compares
 *                                                 our logits with DIR/hf_logits.json
 * Needs `npm run build` first.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AutoModelForCausalLM } from '../dist/src/models/auto.js';
import { LlamaConfig } from '../dist/src/models/llama/config.js';
import { initLlamaWeights } from '../dist/src/models/llama/init.js';
import { LlamaForCausalLM } from '../dist/src/models/llama/modeling.js';

const [mode, dir] = process.argv.slice(2);
const IDS = [
  [3, 17, 42, 5, 8, 33, 21, 13, 1, 0, 7, 29],
  [11, 2, 30, 30, 4, 9, 16, 25, 36, 6, 14, 19],
];
const VARIANTS = {
  gqa: { vocab_size: 64, hidden_size: 48, intermediate_size: 80, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16, attention_bias: true, mlp_bias: true, rope_theta: 500000, initializer_range: 0.2 },
  tied_llama3: {
    vocab_size: 64, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1, tie_word_embeddings: true, initializer_range: 0.2,
    rope_theta: 10000, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 },
  },
};

async function logits(model, rows) {
  const out = await model.forward(rows);
  const data = Array.from(await out.logits.data());
  out.logits.dispose();
  return data;
}

if (mode === 'save') {
  for (const [name, fields] of Object.entries(VARIANTS)) {
    const model = new LlamaForCausalLM(LlamaConfig.create(fields));
    initLlamaWeights(model, 1);
    await model.save(join(dir, name));
    writeFileSync(join(dir, name, 'mamba_ts_logits.json'), JSON.stringify({ ids: IDS, data: await logits(model, IDS) }));
    model.dispose();
  }
  console.log(JSON.stringify({ check: 'mamba-ts saved', variants: Object.keys(VARIANTS) }));
} else if (mode === 'compare') {
  const ref = JSON.parse(readFileSync(join(dir, 'hf_logits.json'), 'utf8'));
  const model = await AutoModelForCausalLM.fromPretrained(dir);
  const got = await logits(model, ref.ids);
  let diff = 0;
  let scale = 0;
  ref.data.forEach((v, i) => {
    diff = Math.max(diff, Math.abs(v - got[i]));
    scale = Math.max(scale, Math.abs(v));
  });
  console.log(JSON.stringify({ check: 'transformers -> mamba-ts', max_abs_diff: diff, max_abs_ref: scale, relative: diff / scale, ok: diff <= 1e-4 * scale }));
} else {
  console.error('usage: node scripts/llama-roundtrip.mjs save|compare DIR');
  process.exit(2);
}
