import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../src/autograd/backward.js';
import { Linear } from '../src/nn/layers.js';
import * as ops from '../src/ops/index.js';
import { tidy } from '../src/tensor/memory.js';
import { AdamW, mambaNoDecay } from '../src/train/adamw.js';
import { warmupCosine } from '../src/train/schedule.js';
import { SGD } from '../src/train/sgd.js';

test('warm-up then cosine: 0 → lr linearly, lr → minLr along a cosine', () => {
  const s = { lr: 1, warmupSteps: 10, totalSteps: 110, minLr: 0.1 };
  assert.equal(warmupCosine(0, s), 0.1);
  assert.equal(warmupCosine(9, s), 1);
  assert.equal(warmupCosine(10, s), 1);
  assert.ok(Math.abs(warmupCosine(60, s) - 0.55) < 1e-12);
  assert.equal(warmupCosine(110, s), 0.1);
  assert.equal(warmupCosine(1000, s), 0.1);
});

test("Mamba's no-decay set: A_log, D, norms, biases, embeddings", () => {
  for (const n of ['backbone.layers.0.mixer.A_log', 'backbone.layers.0.mixer.D', 'backbone.layers.0.norm.weight', 'backbone.norm_f.weight', 'backbone.layers.0.mixer.dt_proj.bias', 'backbone.embeddings.weight']) {
    assert.ok(mambaNoDecay(n), n);
  }
  for (const n of ['backbone.layers.0.mixer.in_proj.weight', 'backbone.layers.0.mixer.dt_proj.weight', 'lm_head.weight']) assert.ok(!mambaNoDecay(n), n);
});

/** Fits y = 2x − 1 with a 1×1 Linear; returns the final squared error. */
async function fit(makeOpt: (lin: Linear) => { update(): void; dispose(): void }, steps: number): Promise<number> {
  const lin = new Linear(1, 1, true);
  lin.weight.set(ops.tensor([0], [1, 1]));
  lin.bias!.set(ops.tensor([0], [1]));
  lin.requiresGrad_(true);
  const opt = makeOpt(lin);
  const x = ops.tensor([-1, 0, 1, 2], [4, 1]);
  const y = ops.tensor([-3, -1, 1, 3], [4, 1]);
  let err = Infinity;
  for (let i = 0; i < steps; i++) {
    const loss = tidy(() => {
      const d = ops.sub(lin.forward(x), y);
      return ops.scale(ops.sum(ops.reshape(ops.mul(d, d), [1, 4])), 0.25);
    });
    err = (await loss.data())[0]!;
    loss.backward();
    loss.dispose();
    opt.update();
    lin.zeroGrad();
  }
  opt.dispose();
  lin.dispose();
  return err;
}

test('SGD with momentum and AdamW both fit a line', async () => {
  const sgd = await fit((lin) => new SGD([lin.weight, lin.bias!], 0.05, 0.9), 200);
  assert.ok(sgd < 1e-4, `SGD error ${sgd}`);
  const adam = await fit((lin) => new AdamW(lin.namedParameters(), { lr: 0.1, weightDecay: 0 }), 300);
  assert.ok(adam < 1e-3, `AdamW error ${adam}`);
});
