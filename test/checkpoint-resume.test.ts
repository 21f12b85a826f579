/**
 * Resuming from what is on disk: the old layout's leftovers of a swap a crash interrupted are found
 * (the run continues from the newest complete one), a damaged checkpoint is refused by name, and a
 * hand-edited trainer_state.json or optimizer.safetensors is checked field by field and tensor by
 * tensor instead of trusted.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SafetensorsFile, serializeSafetensors, type TensorToWrite } from '../src/io/safetensors.js';
import '../src/autograd/backward.js';
import { MambaConfig } from '../src/models/mamba/config.js';
import { initMambaWeights } from '../src/models/mamba/init.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { AdamW } from '../src/train/adamw.js';
import { tensor } from '../src/ops/create.js';
import { parseTrainConfig } from '../src/train/train-config.js';
import { runTraining } from '../src/train/trainer.js';
import { SHARED } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'mamba-ts-resume-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const corpus = join(tmp, 'corpus.txt');
writeFileSync(corpus, readFileSync(resolve(SHARED, 'data/text/tinyshakespeare.txt'), 'utf8').slice(0, 20000));

function config(outDir: string) {
  return parseTrainConfig(
    {
      model: { hidden_size: 8, num_hidden_layers: 1, use_bias: false }, data: { path: corpus },
      steps: 4, batchSize: 2, seqLen: 8, evalInterval: 2, evalBatches: 1, checkpointInterval: 1, warmupSteps: 1, outDir, seed: 5, device: 'cpu',
    },
    'test config',
  );
}

/** Trains into `outDir` and stops (as a crash would) once the checkpoint of step `at` is saved. */
async function trainUntil(outDir: string, at: number, resume = false): Promise<void> {
  await assert.rejects(
    runTraining(config(outDir), {
      resume,
      onProgress: (p) => {
        if (p.step === at + 1) throw new Error('stop');
      },
    }),
    /stop/,
  );
}

/** A pid that no process has now (a child that has exited). */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid!;
}

let straight: Buffer;
/** A run stopped after its step-2 checkpoint: each test copies it and damages or edits the copy. */
const base = join(tmp, 'base');

before(async () => {
  await runTraining(config(join(tmp, 'straight')));
  straight = readFileSync(join(tmp, 'straight', 'checkpoint', 'model.safetensors'));
  await trainUntil(base, 2);
});

function copyOfBase(name: string): { outDir: string; ckpt: string } {
  const outDir = join(tmp, name);
  cpSync(base, outDir, { recursive: true });
  return { outDir, ckpt: join(outDir, 'checkpoint') };
}

describe('resume', () => {
  test("finds the old layout's checkpoint.tmp-* / checkpoint.old-* left by a crash between the swap's renames, and continues from the newest", async () => {
    // The old writer renamed checkpoint → checkpoint.old-<pid>-<ms>, then checkpoint.tmp-<pid>-<ms> →
    // checkpoint; a SIGKILL between the two left no `checkpoint`, and --resume started over at step 1.
    const work = join(tmp, 'legacy-work');
    await trainUntil(work, 2);
    const step2 = join(tmp, 'legacy-step2');
    cpSync(join(work, 'checkpoint'), step2, { recursive: true });
    await trainUntil(work, 3, true);
    const outDir = join(tmp, 'legacy');
    const pid = deadPid();
    cpSync(step2, join(outDir, `checkpoint.old-${pid}-1700000000000`), { recursive: true });
    cpSync(join(work, 'checkpoint'), join(outDir, `checkpoint.tmp-${pid}-1700000000001`), { recursive: true });
    for (const d of readdirSync(outDir)) rmSync(join(outDir, d, 'checkpoint_complete.json'), { force: true }); // the old layout had no marker
    const r = await runTraining(config(outDir), { resume: true });
    assert.equal(r.stepsRun, 1, 'resumed from the step-3 checkpoint, not from the start');
    assert.ok(readFileSync(join(outDir, 'checkpoint', 'model.safetensors')).equals(straight), 'the weights of an uninterrupted run');
    assert.deepEqual(readdirSync(outDir).sort(), ['checkpoint', 'loss_curve.svg']);
  });

  test('refuses a checkpoint that lost a file, naming it, instead of starting over', async () => {
    const { outDir, ckpt } = copyOfBase('lost-file');
    rmSync(join(ckpt, 'optimizer.safetensors'));
    await assert.rejects(runTraining(config(outDir), { resume: true }), /checkpoint: not a complete checkpoint \(optimizer\.safetensors is missing \(checkpoint_complete\.json lists it\)\), so the run cannot resume/);
    // A complete checkpoint-<step> beside it is no excuse to ignore the damaged one.
    const { outDir: two, ckpt: ck2 } = copyOfBase('lost-file-2');
    cpSync(ck2, `${ck2}-1`, { recursive: true });
    renameSync(join(ck2, 'trainer_state.json'), join(ck2, 'trainer_state.moved'));
    await assert.rejects(runTraining(config(two), { resume: true }), /not a complete checkpoint \(trainer_state\.json is missing/);
  });
});

/** Rewrites optimizer.safetensors through `edit` (name → tensor, and the metadata). */
function editOptimizer(ckpt: string, edit: (tensors: Map<string, TensorToWrite>, metadata: Record<string, string>) => void): void {
  const path = join(ckpt, 'optimizer.safetensors');
  const f = SafetensorsFile.parse(new Uint8Array(readFileSync(path)), path);
  const tensors = new Map<string, TensorToWrite>(f.names().map((n) => [n, { dtype: 'F32', shape: [...f.entry(n).shape], data: f.toFloat32(n) }]));
  const metadata = { ...f.metadata };
  edit(tensors, metadata);
  writeFileSync(path, serializeSafetensors(Object.fromEntries(tensors), metadata));
}

function editState(ckpt: string, edit: (state: Record<string, unknown>) => void): void {
  const path = join(ckpt, 'trainer_state.json');
  const state = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  edit(state);
  writeFileSync(path, JSON.stringify(state));
}

describe('a hand-edited checkpoint is checked, not trusted', () => {
  const cases: [string, (ckpt: string) => void, RegExp][] = [
    // Resumed silently with exp_avg_sq restarted at zero: final loss 5.28 instead of 3.30.
    ['a missing exp_avg_sq', (c) => editOptimizer(c, (t) => t.delete('exp_avg_sq.backbone.layers.0.mixer.D')),
      /optimizer\.safetensors: tensor exp_avg_sq\.backbone\.layers\.0\.mixer\.D is missing/],
    // Trained 9 steps instead of 2.
    ['step -5', (c) => editState(c, (s) => (s['step'] = -5)), /trainer_state\.json: field "step": expected an integer >= 0, got -5/],
    // Trained nothing and reported success.
    ['step 1e9', (c) => editState(c, (s) => (s['step'] = 1e9)), /trainer_state\.json: field "step": the checkpoint is at step 1000000000, past the 4 steps this run trains/],
    // Crashed after saving (validLosses.push is not a function).
    ['validLosses {}', (c) => editState(c, (s) => (s['validLosses'] = {})), /trainer_state\.json: field "validLosses": expected an array of \{ "step", "loss" \}, got an object/],
    ['a train loss that is not a number', (c) => editState(c, (s) => ((s['trainLosses'] as { loss: unknown }[])[0]!.loss = 'low')), /field "trainLosses\[0\]\.loss": expected a finite number, got a string/],
    ['rngState not an integer', (c) => editState(c, (s) => (s['rngState'] = 1.5)), /field "rngState": expected an integer in \[0, 2\^32\), got 1\.5/],
    ['a trainer step the optimizer does not share', (c) => editState(c, (s) => Object.assign(s, { step: 1, trainLosses: (s['trainLosses'] as unknown[]).slice(0, 1), validLosses: [] })), /optimizer\.safetensors: metadata "step" is 2, but trainer_state\.json is at step 1/],
    ['a moment of no parameter', (c) => editOptimizer(c, (t) => t.set('exp_avg.backbone.bogus', { dtype: 'F32', shape: [1], data: new Float32Array(1) })),
      /tensor exp_avg\.backbone\.bogus: not a moment of this model's parameters/],
    ['a moment of the wrong shape', (c) => editOptimizer(c, (t) => t.set('exp_avg.backbone.norm_f.weight', { dtype: 'F32', shape: [2, 4], data: new Float32Array(8) })),
      /tensor exp_avg\.backbone\.norm_f\.weight: shape \[2, 4\], expected the parameter's \[8\]/],
    ['a NaN moment', (c) => editOptimizer(c, (t) => ((t.get('exp_avg.backbone.norm_f.weight')!.data as Float32Array)[3] = NaN)),
      /tensor exp_avg\.backbone\.norm_f\.weight: value NaN at index 3, expected a finite number/],
    ['a negative exp_avg_sq', (c) => editOptimizer(c, (t) => ((t.get('exp_avg_sq.backbone.norm_f.weight')!.data as Float32Array)[0] = -1)),
      /tensor exp_avg_sq\.backbone\.norm_f\.weight: value -1 at index 0, expected a finite number >= 0/],
    ['another corpus (the characters would get other ids)', (c) => editState(c, (s) => (s['vocabulary'] = ['a', 'b'])),
      /trainer_state\.json: field "vocabulary": the checkpoint's 2 characters differ/],
  ];
  for (const [what, edit, error] of cases) {
    test(what, async () => {
      const { outDir, ckpt } = copyOfBase(`edit-${what.replace(/[^a-z0-9]+/gi, '-')}`);
      edit(ckpt);
      await assert.rejects(runTraining(config(outDir), { resume: true }), error);
    });
  }
});

describe('AdamW.loadState', () => {
  test('refuses a lone moment, an unknown name, a wrong shape and a bad step, and then changes nothing', () => {
    const model = new MambaForCausalLM(MambaConfig.create({ hidden_size: 8, num_hidden_layers: 1, vocab_size: 16, use_bias: false }));
    initMambaWeights(model, 1);
    const opt = new AdamW(model.namedParameters());
    const t = (shape: number[]) => tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
    const norm = 'backbone.norm_f.weight';
    assert.throws(() => opt.loadState({ step: 1, m: new Map([[norm, t([8])]]), v: new Map() }), /backbone\.norm_f\.weight has m \(exp_avg\) but no v \(exp_avg_sq\)/);
    assert.throws(() => opt.loadState({ step: 1, m: new Map([['nope', t([8])]]), v: new Map([['nope', t([8])]]) }), /m has nope, which is not one of the optimizer's parameters/);
    assert.throws(() => opt.loadState({ step: 1, m: new Map([[norm, t([4])]]), v: new Map([[norm, t([8])]]) }), /m\[backbone\.norm_f\.weight\] is f32 \[4\], expected f32 \[8\]/);
    assert.throws(() => opt.loadState({ step: -1, m: new Map(), v: new Map() }), /step must be an integer >= 0, got -1/);
    assert.equal(opt.step, 0);
    opt.dispose();
    model.dispose();
  });
});
