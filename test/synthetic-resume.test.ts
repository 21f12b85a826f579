/** Resumable synthetic-task experiments: outDir/checkpoint at every evaluation, `--resume` continues exactly. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runSynthetic, type SyntheticResult } from '../src/experiments/run-synthetic.js';
import { parseSyntheticConfig, type SyntheticConfig } from '../src/experiments/synthetic-config.js';
import { availableDevices } from './devices.js';

const tmp = mkdtempSync(join(tmpdir(), 'mamba-ts-synthetic-resume-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A tiny experiment: one layer of width 16, batches of 4 at length 16, the warm-up-cosine schedule. */
const config = (name: string, more: Record<string, unknown> = {}): SyntheticConfig =>
  parseSyntheticConfig(
    {
      task: 'selective-copying', model: { hidden_size: 16, num_hidden_layers: 1 }, memorize: 4, trainLength: 16, steps: 6, warmupSteps: 2, lr: 0.01,
      batchSize: 4, evalInterval: 1, testLengths: [16], testBatches: 1, testBatchSize: 4, outDir: join(tmp, name), ...more,
    },
    `${name}.json`,
  );

const bytes = (name: string, file: string) => readFileSync(join(tmp, name, file));
/** The curve without its wall-clock seconds. */
const curveOf = (r: SyntheticResult) => r.curve.map(({ step, loss, accuracy }) => ({ step, loss, accuracy }));
const results = (name: string) => JSON.parse(readFileSync(join(tmp, name, 'results.json'), 'utf8')) as SyntheticResult;

let straight: SyntheticResult;

test('a run cut by maxSeconds and resumed ends with the bits and curve of one uninterrupted run', async () => {
  straight = await runSynthetic(config('straight'));
  assert.equal(straight.runs, 1);
  // maxSeconds this small stops every run after its first step (and its evaluation): no timing involved.
  const first = await runSynthetic(config('cut', { maxSeconds: 1e-9 }));
  assert.equal(first.steps, 1);
  assert.equal(first.stoppedBy, 'time');
  const second = await runSynthetic(config('cut', { maxSeconds: 1e-9 }), undefined, { resume: true });
  assert.equal(second.steps, 2, 'maxSeconds is each run\'s own budget: the resume trains again');
  const steps: number[] = [];
  const last = await runSynthetic(config('cut'), undefined, { resume: true, onStep: (s) => steps.push(s) });
  assert.deepEqual(steps, [3, 4, 5, 6]);
  assert.equal(last.stoppedBy, 'steps');
  assert.equal(last.runs, 3);
  assert.equal(results('cut').runs, 3);
  assert.ok(last.trainSeconds >= second.trainSeconds, 'trainSeconds adds up the runs');
  assert.deepEqual(curveOf(last), curveOf(straight));
  assert.equal(last.finalLoss, straight.finalLoss);
  assert.deepEqual(last.accuracy, straight.accuracy);
  assert.ok(bytes('cut', 'model/model.safetensors').equals(bytes('straight', 'model/model.safetensors')), 'parameters differ from the uninterrupted run\'s');
  assert.ok(bytes('cut', 'checkpoint/optimizer.safetensors').equals(bytes('straight', 'checkpoint/optimizer.safetensors')), 'optimizer moments differ');
});

test('on WebGPU too: the fused optimizer\'s moments and the replayed step continue where the checkpoint left them', async (t) => {
  if (!(await availableDevices()).includes('webgpu')) return t.skip('no WebGPU adapter');
  const gpu = { device: 'webgpu' };
  const whole = await runSynthetic(config('gpu-whole', gpu));
  await runSynthetic(config('gpu-cut', { ...gpu, maxSeconds: 1e-9 }));
  await runSynthetic(config('gpu-cut', { ...gpu, maxSeconds: 1e-9 }), undefined, { resume: true });
  const rest = await runSynthetic(config('gpu-cut', gpu), undefined, { resume: true });
  assert.deepEqual([rest.device, rest.runs], ['webgpu', 3]);
  assert.deepEqual(curveOf(rest), curveOf(whole));
  assert.ok(bytes('gpu-cut', 'model/model.safetensors').equals(bytes('gpu-whole', 'model/model.safetensors')));
});

test('raising steps continues the data stream between evaluations (constant schedule)', async () => {
  const more = { schedule: 'constant', evalInterval: 3 };
  const whole = await runSynthetic(config('whole', more));
  const part = await runSynthetic(config('part', { ...more, steps: 3 }));
  assert.equal(part.stoppedBy, 'steps');
  const rest = await runSynthetic(config('part', more), undefined, { resume: true });
  assert.deepEqual(curveOf(rest), curveOf(whole));
  assert.ok(bytes('part', 'model/model.safetensors').equals(bytes('whole', 'model/model.safetensors')));
});

test('a resume of a finished run only tests again; --resume without a checkpoint starts fresh', async () => {
  const steps: number[] = [];
  const again = await runSynthetic(config('straight'), undefined, { resume: true, onStep: (s) => steps.push(s) });
  assert.deepEqual(steps, []);
  assert.equal(again.runs, 1);
  assert.equal(again.steps, 6);
  assert.deepEqual(again.accuracy, straight.accuracy);
  assert.deepEqual(curveOf(again), curveOf(straight));
  const fresh = await runSynthetic(config('fresh', { steps: 2 }), undefined, { resume: true });
  assert.equal(fresh.steps, 2);
  assert.equal(fresh.runs, 1);
});

test('an outDir with a checkpoint is kept unless the run resumes or overwrites; a changed config is refused', async () => {
  await assert.rejects(runSynthetic(config('straight')), /experiment: .*straight\/checkpoint already holds a checkpoint from an earlier run; pass --resume/);
  const cut = config('changed', { maxSeconds: 1e-9 });
  await runSynthetic(cut);
  const file = /changed\/checkpoint\/trainer_state\.json: the checkpoint was trained with another config/;
  await assert.rejects(runSynthetic(config('changed', { lr: 0.02 }), undefined, { resume: true }), (e: Error) => file.test(e.message) && /"lr" 0\.01 in the checkpoint but 0\.02 in the config/.test(e.message));
  await assert.rejects(runSynthetic(config('changed', { model: { hidden_size: 8, num_hidden_layers: 1 } }), undefined, { resume: true }), (e: Error) => file.test(e.message) && /"model"/.test(e.message));
  await assert.rejects(runSynthetic(config('changed', { seed: 3 }), undefined, { resume: true }), /"seed" 0 in the checkpoint but 3/);
  // What may change: the stops, evaluation and test settings.
  const ok = await runSynthetic(config('changed', { steps: 8, evalInterval: 2, testLengths: [16, 24], stopAccuracy: 1 }), undefined, { resume: true });
  assert.equal(ok.accuracy.length, 2);
  assert.equal(ok.runs, 2);
  const over = await runSynthetic(config('changed', { steps: 2 }), undefined, { overwrite: true });
  assert.equal(over.runs, 1);
  assert.equal(results('changed').steps, 2);
});

test('a damaged checkpoint is refused by name, never started over', async () => {
  await runSynthetic(config('damaged', { steps: 2 }));
  const state = join(tmp, 'damaged', 'checkpoint', 'trainer_state.json');
  const good = readFileSync(state, 'utf8');
  writeFileSync(state, good.replace(/"runs": 1/, '"runs": 0'));
  await assert.rejects(runSynthetic(config('damaged'), undefined, { resume: true }), /damaged\/checkpoint\/trainer_state\.json: field "runs": expected an integer >= 1/);
  writeFileSync(state, good.replace(/"curve": \[/, '"curve": [7, '));
  await assert.rejects(runSynthetic(config('damaged'), undefined, { resume: true }), /trainer_state\.json: field "curve\[0\]\.step"/);
  writeFileSync(state, good);
  unlinkSync(join(tmp, 'damaged', 'checkpoint', 'optimizer.safetensors'));
  await assert.rejects(runSynthetic(config('damaged'), undefined, { resume: true }), /damaged\/checkpoint: not a complete checkpoint \(optimizer\.safetensors is missing/);
});
