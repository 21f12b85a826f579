/**
 * The Node half of the HuggingFace transformers round trip (scripts/transformers_check.py runs it
 * where PyTorch and transformers are installed):
 *   node scripts/transformers-check.mjs save DIR     train a tiny Mamba for 4 steps with mamba-ts;
 *                                                    its checkpoint goes to DIR/checkpoint, and the
 *                                                    logits of a fixed batch to DIR/mamba_ts_logits.json
 *   node scripts/transformers-check.mjs compare DIR  load a model transformers saved in DIR and
 *                                                    compare our logits with DIR/hf_logits.json
 * Needs `npm run build` first.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AutoModelForCausalLM } from '../dist/src/models/auto.js';
import { parseTrainConfig } from '../dist/src/train/train-config.js';
import { runTraining } from '../dist/src/train/trainer.js';

const [mode, dir] = process.argv.slice(2);
const IDS = [
  [3, 17, 42, 5, 8, 33, 21, 13, 1, 0, 7, 29],
  [11, 2, 30, 30, 4, 9, 16, 25, 36, 6, 14, 19],
];

async function logitsOf(modelDir, rows) {
  const model = await AutoModelForCausalLM.fromPretrained(modelDir);
  const ids = rows.map((r) => r.map((id) => id % model.vocabSize));
  const out = await model.forward(ids);
  const data = Array.from(await out.logits.data());
  out.logits.dispose();
  return { ids, shape: out.logits.shape, data };
}

if (mode === 'save') {
  const corpus = join(dir, 'corpus.txt');
  // A small corpus of its own: the device machine has no ../shared.
  const lines = ['the quick brown fox jumps over the lazy dog.', 'pack my box with five dozen liquor jugs!', 'how vexingly quick daft zebras jump; sphinx of black quartz, judge my vow?'];
  writeFileSync(corpus, Array.from({ length: 300 }, (_, i) => lines[(i * 7) % 3]).join('\n'));
  const c = parseTrainConfig(
    { model: { hidden_size: 32, num_hidden_layers: 2, use_bias: false }, data: { path: corpus }, steps: 4, batchSize: 2, seqLen: 16, evalInterval: 4, evalBatches: 1, checkpointInterval: 4, warmupSteps: 1, outDir: dir },
    'transformers-check',
  );
  const r = await runTraining(c);
  writeFileSync(join(dir, 'mamba_ts_logits.json'), JSON.stringify(await logitsOf(r.checkpoint, IDS)));
  console.log(JSON.stringify({ check: 'mamba-ts saved', checkpoint: r.checkpoint }));
} else if (mode === 'compare') {
  const ref = JSON.parse(readFileSync(join(dir, 'hf_logits.json'), 'utf8'));
  const got = await logitsOf(dir, ref.ids);
  let diff = 0;
  let scale = 0;
  ref.data.forEach((v, i) => {
    diff = Math.max(diff, Math.abs(v - got.data[i]));
    scale = Math.max(scale, Math.abs(v));
  });
  console.log(JSON.stringify({ check: 'transformers -> mamba-ts', max_abs_diff: diff, max_abs_ref: scale, relative: diff / scale, ok: diff <= 1e-4 * scale }));
} else {
  console.error('usage: node scripts/transformers-check.mjs save|compare DIR');
  process.exit(2);
}
