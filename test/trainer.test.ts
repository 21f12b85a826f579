/** `mamba-ts train`: config checks, outputs, and a crashed run resumed to the same weights. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { SafetensorsFile } from '../src/io/safetensors.js';
import { parseTrainConfig, type TrainConfig } from '../src/train/train-config.js';
import { NonFiniteLossError, runTraining } from '../src/train/trainer.js';
import { AutoTokenizer } from '../src/io/tokenizer.js';
import { fixture, SHARED } from './helpers.js';

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');
const tmp = mkdtempSync(join(tmpdir(), 'mamba-ts-train-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const corpusPath = join(tmp, 'corpus.txt');
writeFileSync(corpusPath, readFileSync(resolve(SHARED, 'data/text/tinyshakespeare.txt'), 'utf8').slice(0, 30000));

function config(outDir: string, extra: Record<string, unknown> = {}): TrainConfig {
  return parseTrainConfig(
    {
      model: { hidden_size: 32, num_hidden_layers: 2, use_bias: false },
      data: { path: corpusPath },
      steps: 12, batchSize: 2, gradAccumulation: 2, seqLen: 24, evalInterval: 6, evalBatches: 2, checkpointInterval: 4, warmupSteps: 3, outDir, seed: 4,
      ...extra,
    },
    'test config',
  );
}

describe('train', () => {
  test('a run that crashed after a checkpoint and resumed ends with the weights of an uninterrupted run', async () => {
    await runTraining(config(join(tmp, 'straight')));
    const crashDir = join(tmp, 'crashed');
    await assert.rejects(
      runTraining(config(crashDir), {
        onProgress: (p) => {
          if (p.step === 10) throw new Error('simulated crash');
        },
      }),
      /simulated crash/,
    );
    await runTraining(config(crashDir), { resume: true }); // continues from the step-8 checkpoint
    const a = SafetensorsFile.parse(new Uint8Array(readFileSync(join(tmp, 'straight', 'checkpoint', 'model.safetensors'))), 'a');
    const b = SafetensorsFile.parse(new Uint8Array(readFileSync(join(crashDir, 'checkpoint', 'model.safetensors'))), 'b');
    for (const n of a.names()) assert.deepEqual(b.raw(n), a.raw(n), n);
    const state = JSON.parse(readFileSync(join(crashDir, 'checkpoint', 'trainer_state.json'), 'utf8')) as { step: number; vocabulary: string[] };
    assert.equal(state.step, 12);
    assert.ok(state.vocabulary.includes('R'));
    assert.ok(readFileSync(join(crashDir, 'loss_curve.svg'), 'utf8').startsWith('<svg'));
  });

  test('bad configs name the file and the field', () => {
    const p = (raw: unknown) => () => parseTrainConfig(raw, 'cfg.json');
    const base = { data: { path: corpusPath }, outDir: tmp };
    assert.throws(p({ ...base, stpes: 3 }), /cfg\.json: unknown field\(s\) stpes/);
    assert.throws(p({ ...base, lr: 1e-3, minLr: 1e-2 }), /"minLr" .* and "lr" .* contradict/);
    assert.throws(p({ ...base, batchSize: 0 }), /field "batchSize": expected an integer >= 1, got 0/);
    assert.throws(p({ ...base, gradAccumulation: 1.5 }), /field "gradAccumulation": expected an integer >= 1/);
    assert.throws(p({ outDir: tmp }), /field "data"/);
    assert.throws(p({ ...base, device: 'tpu' }), /field "device"/);
  });

  test('a corpus shorter than one window is refused', async () => {
    const short = join(tmp, 'short.txt');
    writeFileSync(short, 'abc');
    const c = config(join(tmp, 'short'), { data: { path: short } });
    await assert.rejects(runTraining(c), /too short for windows of 25 characters/);
  });

  test('a loss that stops being finite stops the run before it saves; the last checkpoint stays', async () => {
    const dir = join(tmp, 'nan');
    // An absurd learning rate sends the weights to ~1e30 after one update and the loss to Inf/NaN.
    const c = config(dir, { lr: 1e30, minLr: 0, warmupSteps: 0, checkpointInterval: 1, steps: 8, gradAccumulation: 1 });
    await assert.rejects(runTraining(c), (e: Error) => e instanceof NonFiniteLossError && /became (NaN|Infinity|-Infinity) at step \d+; stopped without/.test(e.message));
    const state = JSON.parse(readFileSync(join(dir, 'checkpoint', 'trainer_state.json'), 'utf8')) as { step: number };
    assert.ok(state.step >= 1 && state.step < 8, `checkpoint step ${state.step}`);
    const f = SafetensorsFile.parse(new Uint8Array(readFileSync(join(dir, 'checkpoint', 'model.safetensors'))), 'm');
    for (const n of f.names()) assert.ok(f.toFloat32(n).every(Number.isFinite), `${n} holds a non-finite value`);
  });

  test('resuming from a checkpoint of another architecture or shape is refused by name', async () => {
    const small = join(tmp, 'small');
    await runTraining(config(small, { steps: 2, checkpointInterval: 2, warmupSteps: 0 }));
    const cfg = join(small, 'checkpoint', 'config.json');
    const mine = readFileSync(cfg);
    copyFileSync(fixture('hf', 'jamba-tiny', 'model', 'config.json'), cfg);
    await assert.rejects(runTraining(config(small), { resume: true }), /config\.json: model_type "jamba": not a Mamba checkpoint/);
    writeFileSync(cfg, mine);
    await assert.rejects(
      runTraining(config(small, { steps: 4, warmupSteps: 0, model: { hidden_size: 16, num_hidden_layers: 2, use_bias: false } }), { resume: true }),
      /hidden_size is 32 in the checkpoint but 16 in the training config/,
    );
  });

  test('a corpus read with the GPT-NeoX tokenizer trains, and its checkpoint carries that tokenizer', async () => {
    const dir = join(tmp, 'neox');
    const neox = resolve(SHARED, 'data/tokenizers/gpt-neox-20b');
    const c = config(dir, { model: { hidden_size: 16, num_hidden_layers: 1, use_bias: false }, data: { path: corpusPath, tokenizer: neox }, steps: 2, checkpointInterval: 2, warmupSteps: 0, evalInterval: 2, seqLen: 16 });
    const r = await runTraining(c);
    assert.ok(Number.isFinite(r.finalValidLoss));
    const want = await AutoTokenizer.fromPretrained(neox);
    const got = await AutoTokenizer.fromPretrained(join(dir, 'checkpoint'));
    assert.deepEqual(got.encode('ROMEO: But soft!'), want.encode('ROMEO: But soft!'));
    const cfg = JSON.parse(readFileSync(join(dir, 'checkpoint', 'config.json'), 'utf8')) as { vocab_size: number };
    assert.equal(cfg.vocab_size, want.vocabSize);
    assert.throws(() => parseTrainConfig({ data: { path: corpusPath, tokeniser: neox }, outDir: tmp }, 'cfg.json'), /unknown field\(s\) data\.tokeniser/);
  });

  test('the CLI trains, checkpoints and reports the validation loss', () => {
    const cfgPath = join(tmp, 'cli.json');
    writeFileSync(cfgPath, JSON.stringify({ model: { hidden_size: 16, num_hidden_layers: 1 }, data: { path: corpusPath }, steps: 4, batchSize: 2, seqLen: 16, evalInterval: 2, evalBatches: 1, checkpointInterval: 4, warmupSteps: 1, outDir: join(tmp, 'cli') }));
    const r = spawnSync(process.execPath, [CLI, 'train', '--config', cfgPath, '--quiet'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /trained 4 steps; validation loss \d+\.\d+ \(\d+\.\d+ bits\/char\)/);
    assert.ok(existsSync(join(tmp, 'cli', 'checkpoint', 'optimizer.safetensors')));
    // The checkpoint is a model folder `generate` reads, tokenizer included.
    const g = spawnSync(process.execPath, [CLI, 'generate', '--model', join(tmp, 'cli', 'checkpoint'), '-n', '8', 'ROMEO:'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(g.status, 0, g.stderr);
    assert.ok(g.stdout.startsWith('ROMEO:') && g.stdout.length > 'ROMEO:\n'.length, JSON.stringify(g.stdout));
    const bad = spawnSync(process.execPath, [CLI, 'train', '--config', join(tmp, 'missing.json')], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^mamba-ts: .*missing\.json: no such file/);
  });
});
