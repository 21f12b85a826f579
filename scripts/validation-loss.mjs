/**
 * The validation loss `mamba-ts train` reports, for a saved model: the training config's corpus,
 * split and validation windows (evalBatches × batchSize × seqLen of the last validFraction), and the
 * trainer's own evaluation (src/train/validation.ts). Used to check that a shipped bf16 copy of a
 * checkpoint predicts as the f32 checkpoint did. Run `npm run build` first (it uses dist/).
 *
 *   node scripts/validation-loss.mjs --config models/mamba2-shakespeare/train.json \
 *     --model models/mamba2-shakespeare [--batches 8] [--device cpu]
 *
 * --batches: the first n of the config's evalBatches windows (default: all of them).
 * Prints one JSON line: the model, the batches, the loss in nats per token, the seconds taken.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => resolve(root, 'dist/src', p);
if (!existsSync(dist('train/validation.js'))) {
  console.error('validation-loss: dist/ is missing or stale; run `npm run build` first');
  process.exit(2);
}
const { values } = parseArgs({
  options: { config: { type: 'string' }, model: { type: 'string' }, batches: { type: 'string' }, device: { type: 'string', default: 'cpu' } },
});
if (!values.config || !values.model) {
  console.error('validation-loss: --config <train.json> and --model <folder> are required');
  process.exit(2);
}
const { parseTrainConfig } = await import(dist('train/train-config.js'));
const { CharCorpus } = await import(dist('train/char-data.js'));
const { TokenCorpus } = await import(dist('train/token-data.js'));
const { validationBatches, validationLoss } = await import(dist('train/validation.js'));
const { AutoModelForCausalLM } = await import(dist('models/auto.js'));
const { readText } = await import(dist('io/platform.js'));

const c = parseTrainConfig(JSON.parse(readFileSync(values.config, 'utf8')), values.config);
const evalBatches = values.batches === undefined ? c.evalBatches : Number(values.batches);
if (!Number.isInteger(evalBatches) || evalBatches < 1 || evalBatches > c.evalBatches) {
  console.error(`validation-loss: --batches must be an integer in [1, ${c.evalBatches}] (the config's evalBatches), got ${values.batches}`);
  process.exit(2);
}
const text = await readText(c.data.path);
const corpus = c.data.tokenizer ? await TokenCorpus.fromText(text, c.data.tokenizer) : new CharCorpus(text);
const { valid } = corpus.split(c.data.validFraction);
const model = await AutoModelForCausalLM.fromPretrained(values.model, { device: values.device });
const t0 = performance.now();
const loss = await validationLoss(model, validationBatches(valid, { ...c, evalBatches }));
model.dispose();
console.log(JSON.stringify({ model: values.model, config: values.config, batches: evalBatches, batchSize: c.batchSize, seqLen: c.seqLen, loss, seconds: +((performance.now() - t0) / 1000).toFixed(1) }));
