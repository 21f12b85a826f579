/**
 * Mamba-2 as a model family: its config (HF fields, defaults, errors that name the field), loading
 * through AutoModelForCausalLM, saving in HF's layout and loading back to the same logits, the
 * grouped gated norm, a random model with several groups, biases and an untied head (recurrent step
 * = parallel path), `mamba-ts info`, and `mamba-ts train`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { ArgumentError, FormatError } from '../src/errors.js';
import { SafetensorsFile } from '../src/io/safetensors.js';
import { parseConfigJson, pythonNonFiniteToJson } from '../src/io/json.js';
import { AutoModelForCausalLM } from '../src/models/auto.js';
import { Mamba2Config } from '../src/models/mamba2/config.js';
import { initMamba2Weights } from '../src/models/mamba2/init.js';
import { GatedRMSNorm } from '../src/models/mamba2/mixer.js';
import { Mamba2ForCausalLM } from '../src/models/mamba2/modeling.js';
import { tensor } from '../src/ops/index.js';
import { parseTrainConfig } from '../src/train/train-config.js';
import { runTraining } from '../src/train/trainer.js';
import { liveTensorCount } from '../src/tensor/memory.js';
import { availableDevices } from './devices.js';
import { assertClose, fixture, randomArray, SHARED } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'mamba-ts-mamba2-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const FIXTURE = fixture('hf', 'mamba2-tiny', 'model');
const fixtureConfig = () => JSON.parse(readFileSync(join(FIXTURE, 'config.json'), 'utf8')) as Record<string, unknown>;

test('the fixture config parses with HF fields; parameters and state bytes follow from it', () => {
  const c = Mamba2Config.fromJSON(fixtureConfig(), 'config.json');
  assert.deepEqual(c.unknownFields, []);
  assert.deepEqual(c.fields.time_step_limit, [0, Infinity]);
  assert.equal(c.intermediateSize, 128);
  assert.equal(c.convDim, 128 + 2 * 16);
  assert.equal(c.projectionSize, 296);
  // The safetensors' shapes, summed: embeddings + 2 layers + norm_f.
  assert.equal(c.parameterCount(), 512 * 64 + 2 * (8 * 3 + 160 + 160 * 4 + 296 * 64 + 128 + 128 * 64 + 64) + 64);
  assert.equal(c.decodeStateBytes(), 2 * (160 * 3 + 8 * 16 * 16) * 4);
  const json = c.toJSON();
  assert.deepEqual(json['time_step_limit'], [0, { __float__: 'Infinity' }]);
  assert.deepEqual(json['architectures'], ['Mamba2ForCausalLM']);
});

test('Mamba2Config refuses inconsistent or unknown fields by name', () => {
  const base = { hidden_size: 32, num_hidden_layers: 1, vocab_size: 50, head_dim: 16, n_groups: 1 };
  assert.equal(Mamba2Config.create(base).fields.num_heads, 4, 'num_heads defaults to expand·hidden / head_dim');
  assert.throws(() => Mamba2Config.create({ ...base, num_heads: 3 }), (e: unknown) => e instanceof FormatError && /"num_heads" × "head_dim" \(3 × 16 = 48\) must equal "expand" × "hidden_size" \(2 × 32 = 64\)/.test(e.message));
  assert.throws(() => Mamba2Config.create({ ...base, n_groups: 3 }), /"n_groups" \(3\) must divide "num_heads" \(4\)/);
  assert.throws(() => Mamba2Config.create({ ...base, stat_size: 8 } as never), (e: unknown) => e instanceof ArgumentError && /stat_size/.test(e.message));
  assert.throws(() => Mamba2Config.fromJSON({ ...base, model_type: 'mamba2', time_step_limit: [0.5, 0.1] }, 'c.json'), /c\.json.*"time_step_limit"/);
  // An infinite lower bound clamps every step to +∞ (all logits NaN): refused.
  assert.throws(() => Mamba2Config.fromJSON({ ...base, model_type: 'mamba2', time_step_limit: [{ __float__: 'Infinity' }, { __float__: 'Infinity' }] }, 'c.json'), /c\.json.*"time_step_limit".*low finite/);
  assert.throws(() => Mamba2Config.fromJSON({ ...base, model_type: 'mamba2', layer_types: ['mamba', 'attention'] }, 'c.json'), /"layer_types"/);
  assert.throws(() => Mamba2Config.fromJSON({ ...base, model_type: 'mamba' }, 'c.json'), /expected "mamba2"/);
  const kept = Mamba2Config.fromJSON({ ...base, model_type: 'mamba2', some_new_field: 1, time_step_limit: [0.0, 0.2] }, 'c.json');
  assert.deepEqual(kept.unknownFields, ['some_new_field']);
  assert.deepEqual(kept.toJSON()['time_step_limit'], [0, 0.2]);
});

test('a transformers 4.x config.json with a bare Infinity (Python json) loads; strict JSON is untouched', async () => {
  assert.equal(pythonNonFiniteToJson('{"a": [0.0, 1.5], "b": "Infinity NaN"}'), null, 'nothing outside strings');
  assert.deepEqual(parseConfigJson('{"l": [0.0, Infinity], "m": -Infinity, "n": NaN, "s": "Infinity"}', 'c.json'), {
    l: [0, { __float__: 'Infinity' }], m: { __float__: '-Infinity' }, n: { __float__: 'NaN' }, s: 'Infinity',
  });
  assert.throws(() => parseConfigJson('{"l": [0.0, Infinity,]}', 'c.json'), /c\.json: not valid JSON/);
  const dir = join(tmp, 'python-json');
  mkdirSync(dir);
  copyFileSync(join(FIXTURE, 'model.safetensors'), join(dir, 'model.safetensors'));
  const text = JSON.stringify({ ...fixtureConfig(), time_step_limit: [0, 'INF'] }).replace('"INF"', 'Infinity');
  writeFileSync(join(dir, 'config.json'), text);
  const model = await AutoModelForCausalLM.fromPretrained(dir);
  assert.ok(model instanceof Mamba2ForCausalLM);
  assert.deepEqual(model.config.fields.time_step_limit, [0, Infinity]);
  model.dispose();
  assert.deepEqual(Mamba2Config.fromJSON({ ...fixtureConfig(), time_step_limit: [0, 'Infinity'] }).fields.time_step_limit, [0, Infinity], 'as a string, too');
});

test('the gated norm takes the RMS per group of E / n_groups channels', async () => {
  const [E, G, eps] = [8, 2, 1e-5];
  const norm = new GatedRMSNorm(E, G, eps);
  const w = randomArray(E, 1);
  norm.weight.set(tensor(w, [E]));
  const x = randomArray(3 * E, 2);
  const z = randomArray(3 * E, 3);
  const got = await norm.forward(tensor(x, [3, E]), tensor(z, [3, E])).data();
  const want = new Float64Array(3 * E);
  for (let r = 0; r < 3; r++) {
    for (let g = 0; g < G; g++) {
      const idx = Array.from({ length: E / G }, (_, i) => r * E + g * (E / G) + i);
      const gated = idx.map((i) => x[i]! * (z[i]! / (1 + Math.exp(-z[i]!))));
      const rms = Math.sqrt(gated.reduce((s, v) => s + v * v, 0) / gated.length + eps);
      idx.forEach((i, k) => (want[i] = (gated[k]! / rms) * w[i % E]!));
    }
  }
  assertClose('grouped gated norm', got, want, 1e-6);
  norm.dispose();
});

test('AutoModelForCausalLM loads model_type "mamba2"; save writes HF layout that loads back to the same logits', async () => {
  const model = await AutoModelForCausalLM.fromPretrained(FIXTURE);
  assert.ok(model instanceof Mamba2ForCausalLM);
  const dir = join(tmp, 'saved');
  await model.save(dir);
  const names = (d: string) => SafetensorsFile.parse(new Uint8Array(readFileSync(join(d, 'model.safetensors'))), 'model.safetensors').names().sort();
  assert.deepEqual(names(dir), names(FIXTURE), 'the same HF tensor names (tied lm_head left out)');
  const saved = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  for (const [k, v] of Object.entries(fixtureConfig())) {
    if (k !== 'transformers_version') assert.deepEqual(saved[k], v, `config.json field ${k}`);
  }
  const again = await AutoModelForCausalLM.fromPretrained(dir);
  const ids = [[5, 9, 200, 3, 77, 1, 4, 8, 300, 2, 11]];
  const [a, b] = [await model.forward(ids), await again.forward(ids)];
  assert.deepEqual(await a.logits.data(), await b.logits.data());
  for (const t of [a.logits, b.logits]) t.dispose();
  model.dispose();
  again.dispose();
});

for (const device of await availableDevices()) {
  test(`a random Mamba-2 with 2 groups, biases and an untied head: step = parallel, padded batch = rows alone, no leaks: ${device}`, async () => {
    const config = Mamba2Config.create({
      hidden_size: 16, num_hidden_layers: 2, vocab_size: 40, head_dim: 4, n_groups: 2, state_size: 6, chunk_size: 4, use_bias: true, tie_word_embeddings: false,
    });
    const model = new Mamba2ForCausalLM(config);
    initMamba2Weights(model, 5, device);
    assert.equal(model.namedParameters().reduce((s, [, p]) => s + p.value.size, 0), config.parameterCount());
    const ids = [[3, 9, 1, 22, 5, 17, 8, 30, 2, 11], [7, 7, 13, 4, 39, 0, 21, 6, 18, 25]];
    (await model.forward(ids)).logits.dispose(); // makes the grouped norm's constant, which stays with the model
    const before = liveTensorCount();
    const L = 9;
    const cache = model.createCache(2);
    model.nextLogits(ids.map((r) => r.slice(0, L)), cache).dispose();
    const stepped = model.nextLogits(ids.map((r) => [r[L]!]), cache);
    const full = model.createCache(2);
    const parallel = model.nextLogits(ids, full);
    assertClose('step vs parallel', await stepped.data(), await parallel.data(), 1e-5);
    for (const t of [stepped, parallel]) t.dispose();
    for (const c of [cache, full]) c.dispose();
    assert.equal(liveTensorCount(), before);
    model.dispose();

    // Left padding: exact where in_proj has no bias (HF zeroes the mixer's input at padding).
    const plain = new Mamba2ForCausalLM(Mamba2Config.create({ hidden_size: 16, num_hidden_layers: 2, vocab_size: 40, head_dim: 4, n_groups: 2, state_size: 6, chunk_size: 4 }));
    initMamba2Weights(plain, 6, device);
    const prompts = [[3, 9, 1], [7, 7, 13, 4, 39, 2, 21]];
    const batch = await plain.generate(prompts, { maxNewTokens: 5, eosTokenId: null, padTokenId: 0 });
    for (const [b, p] of prompts.entries()) assert.deepEqual(batch[b], (await plain.generate([p], { maxNewTokens: 5, eosTokenId: null }))[0], `row ${b}`);
    plain.dispose();
  });
}

test('mamba-ts info describes a Mamba-2 config: parameters and decode state per sequence', () => {
  const cli = resolve(dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');
  const r = spawnSync(process.execPath, [cli, 'info', '--model', FIXTURE, '--json', '--quiet'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const d = JSON.parse(r.stdout) as { architecture: string; parameters: number; decodeStateBytesPerSequence: number };
  assert.equal(d.architecture, 'Mamba2ForCausalLM');
  assert.equal(d.parameters, Mamba2Config.fromJSON(fixtureConfig()).parameterCount());
  assert.equal(d.decodeStateBytesPerSequence, 2 * (160 * 3 + 8 * 16 * 16) * 4);
  const text = spawnSync(process.execPath, [cli, 'info', '--model', join(FIXTURE, 'config.json'), '--quiet'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /Mamba-2 mixer \(SSD\)/);
  assert.match(text.stdout, /8 heads × head_dim 16/);
});

test('mamba-ts train trains a small Mamba-2: validation loss falls, the checkpoint reloads', async () => {
  const corpus = join(tmp, 'corpus.txt');
  writeFileSync(corpus, readFileSync(resolve(SHARED, 'data/text/tinyshakespeare.txt'), 'utf8').slice(0, 30000));
  const model = { model_type: 'mamba2', hidden_size: 32, num_hidden_layers: 2, head_dim: 16, n_groups: 1, state_size: 16, chunk_size: 16 };
  const outDir = join(tmp, 'train');
  const r = await runTraining(
    parseTrainConfig({ model, data: { path: corpus }, steps: 30, batchSize: 4, seqLen: 32, lr: 0.005, warmupSteps: 3, evalInterval: 30, evalBatches: 2, checkpointInterval: 30, outDir, seed: 1 }, 'mamba2 config'),
  );
  // Untrained, the loss is about ln(vocabulary) (4.1 nats for these ~60 characters).
  assert.ok(r.finalValidLoss < 3.3, `validation loss after 30 steps: ${r.finalValidLoss}`);
  const reloaded = await AutoModelForCausalLM.fromPretrained(r.checkpoint);
  assert.ok(reloaded instanceof Mamba2ForCausalLM);
  assert.equal(reloaded.config.fields.head_dim, 16);
  reloaded.dispose();
});
