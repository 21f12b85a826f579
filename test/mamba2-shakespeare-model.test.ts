/**
 * The shipped Mamba-2 TinyShakespeare model (models/mamba2-shakespeare) is the trained one, stored
 * as bf16: it loads through AutoModelForCausalLM as a Mamba2ForCausalLM of train.json's shape, its
 * tokenizer is the training corpus' character vocabulary, greedy generation on the CPU continues a
 * prompt with text and repeats itself, and it predicts held-out Shakespeare as the f32 training
 * checkpoint did. The README's 1.5293 nats/char is the trainer's full validation (8 batches × 32
 * windows × 256 characters, ~150 s on this CPU); here the first 2 windows of that set, measured by
 * the same evaluation (src/train/validation.ts), on which the f32 checkpoint gave 1.20039 (a model
 * that had learnt nothing would give ln 65 = 4.17 nats, character frequencies alone ~3.3).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { AutoTokenizer } from '../src/io/tokenizer.js';
import { readText } from '../src/io/platform.js';
import { AutoModelForCausalLM } from '../src/models/auto.js';
import { Mamba2ForCausalLM } from '../src/models/mamba2/modeling.js';
import { CharCorpus } from '../src/train/char-data.js';
import { parseTrainConfig } from '../src/train/train-config.js';
import { validationBatches, validationLoss } from '../src/train/validation.js';

const DIR = 'models/mamba2-shakespeare';
const TRAIN = `${DIR}/train.json`;
const F32_LOSS_FIRST_2_WINDOWS = 1.20039;

const trainConfig = parseTrainConfig(JSON.parse(readFileSync(TRAIN, 'utf8')), TRAIN);
const model = await AutoModelForCausalLM.fromPretrained(DIR, { device: 'cpu' });
after(() => model.dispose());

test('the shipped model is train.json\'s Mamba-2, stored as bf16, with the corpus\' vocabulary as its tokenizer', async () => {
  assert.ok(model instanceof Mamba2ForCausalLM, `loaded as ${model.constructor.name}`);
  const config = JSON.parse(readFileSync(`${DIR}/config.json`, 'utf8')) as Record<string, unknown>;
  for (const [k, v] of Object.entries(trainConfig.model)) assert.deepEqual(config[k], v, `config.json's ${k}`);
  assert.equal(config['vocab_size'], 65);
  assert.equal(config['dtype'], 'bfloat16');
  assert.equal(model.config.parameterCount(), 2_609_040);
  const corpus = new CharCorpus(await readText(trainConfig.data.path));
  const tokenizer = JSON.parse(readFileSync(`${DIR}/tokenizer.json`, 'utf8')) as { model: { vocab: Record<string, number> } };
  assert.deepEqual(tokenizer.model.vocab, Object.fromEntries(corpus.chars.map((c, i) => [c, i])));
});

test('greedy generation on the CPU continues a prompt with text, the same every time', async () => {
  const tokenizer = await AutoTokenizer.fromPretrained(DIR);
  const prompt = tokenizer.encode('ROMEO:');
  const first = (await model.generate([prompt], { maxNewTokens: 16 }))[0]!;
  const again = (await model.generate([prompt], { maxNewTokens: 16 }))[0]!;
  assert.deepEqual(again, first);
  assert.deepEqual(first.slice(0, prompt.length), prompt);
  const text = tokenizer.decode(first.slice(prompt.length));
  assert.equal(text.length, 16);
  assert.match(text, /[a-z]{3}/i, `the continuation ${JSON.stringify(text)} has a word in it`);
});

test('the bf16 model predicts held-out Shakespeare as the f32 training checkpoint did', async () => {
  const corpus = new CharCorpus(await readText(trainConfig.data.path));
  const { valid } = corpus.split(trainConfig.data.validFraction);
  // The first 2 windows of the trainer's first validation batch (its windows are drawn in order).
  const batches = validationBatches(valid, { ...trainConfig, evalBatches: 1, batchSize: 2 });
  const loss = await validationLoss(model as Mamba2ForCausalLM, batches);
  assert.ok(Math.abs(loss - F32_LOSS_FIRST_2_WINDOWS) < 1e-3, `validation loss ${loss} against the f32 checkpoint's ${F32_LOSS_FIRST_2_WINDOWS}`);
});
