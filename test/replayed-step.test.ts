/**
 * A recorded and replayed training step (train/replayed-step.ts) against the ordinary one
 * (train/train-step.ts): the same parameters to the bit after several steps, on every backend
 * present. On WebGPU steps 3 and later are replays of the recorded second step; on the CPU, which
 * records nothing, every step is the ordinary one (the test then checks the two entry points agree).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DeviceName } from '../src/backend/registry.js';
import { answerLabels, answerLoss, answerLossOn } from '../src/experiments/answer-scoring.js';
import { selectiveCopyingBatch } from '../src/experiments/synthetic-tasks.js';
import { MambaConfig } from '../src/models/mamba/config.js';
import { initMambaWeights } from '../src/models/mamba/init.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { RandomSource } from '../src/ops/random.js';
import { noGrad } from '../src/autograd/tape.js';
import { getBackend } from '../src/backend/registry.js';
import { liveTensorCount } from '../src/tensor/memory.js';
import { AdamW } from '../src/train/adamw.js';
import { ReplayedTrainStep } from '../src/train/replayed-step.js';
import { trainStep } from '../src/train/train-step.js';
import { mul } from '../src/ops/index.js';
import { tensor } from '../src/ops/create.js';
import { availableDevices } from './devices.js';

const [B, L, V] = [2, 40, 8];
const STEPS = 5;

function tinyModel(device: DeviceName, selective: boolean): MambaForCausalLM {
  const model = new MambaForCausalLM(MambaConfig.create({ hidden_size: 16, state_size: 4, num_hidden_layers: 2, vocab_size: V, use_bias: false, selective } as Parameters<typeof MambaConfig.create>[0]));
  initMambaWeights(model, 3, device);
  model.requiresGrad_(true);
  return model;
}

/** The batches of both runs: Selective Copying with 4 tokens to copy. */
const batches = () => {
  const rng = new RandomSource(11);
  return Array.from({ length: STEPS }, () => selectiveCopyingBatch(B, L, V, 4, rng));
};

/** Every parameter's bytes, by name. */
async function snapshot(model: MambaForCausalLM): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const [name, p] of model.namedParameters()) out.set(name, Buffer.from(((await p.value.data()) as Float32Array).buffer.slice(0)));
  return out;
}

/**
 * Between steps the runner measures accuracy with a forward without recording (as run-synthetic's
 * evaluations do): that forward must neither disturb the recorded step (its packed parameter
 * buffers, which belong to the recording) nor see stale parameters after replays.
 */
async function evalForward(model: MambaForCausalLM): Promise<number[]> {
  const out = await noGrad(() => model.forward([[1, 2, 3, 4, 5, 6, 7, 1]]));
  const logits = Array.from((await out.logits.data()) as Float32Array);
  out.logits.dispose();
  return logits;
}

async function ordinary(device: DeviceName, selective: boolean): Promise<{ params: Map<string, Buffer>; losses: number[]; evals: number[][] }> {
  const model = tinyModel(device, selective);
  const opt = new AdamW(model.namedParameters(), { lr: 0.01, weightDecay: 0.1 });
  const params = model.namedParameters().map(([, p]) => p);
  const losses: number[] = [];
  const evals: number[][] = [];
  const held: [number, number][] = [];
  for (const [i, b] of batches().entries()) {
    opt.lr = 0.01 / (i + 1); // a schedule: the replays must read each step's rate
    const r = await trainStep(opt, params, async () => {
      const out = await model.forward(b.ids);
      const loss = answerLoss(out.logits, b.targets);
      out.logits.dispose();
      return loss;
    }, { gradClip: 0.5 });
    assert.ok(r.updated);
    losses.push(r.loss);
    evals.push(await evalForward(model));
    if (i >= 1) held.push([liveTensorCount(), getBackend(device).memoryBytes()]);
  }
  // After the first step (which makes the optimizer's state), steps hold nothing new.
  assert.ok(held.every(([n, bytes]) => n === held[0]![0] && bytes === held[0]![1]), `live tensors and bytes per ordinary step: ${JSON.stringify(held)}`);
  const snap = await snapshot(model);
  opt.dispose();
  model.dispose();
  return { params: snap, losses, evals };
}

async function replayed(device: DeviceName, selective: boolean): Promise<{ params: Map<string, Buffer>; losses: number[]; evals: number[][]; replays: number }> {
  const model = tinyModel(device, selective);
  const opt = new AdamW(model.namedParameters(), { lr: 0.01, weightDecay: 0.1 });
  let scored = 0;
  const stepper = new ReplayedTrainStep({
    opt,
    params: model.namedParameters().map(([, p]) => p),
    device,
    gradClip: 0.5,
    inputs: [
      { shape: [B, L], dtype: 'i32' },
      { shape: [B * L], dtype: 'i32' },
    ],
    lossOf: ([ids, labels]) => {
      const out = model.forwardSync(ids!);
      const loss = answerLossOn(out.logits, labels!, scored);
      out.logits.dispose();
      return loss;
    },
  });
  const losses: number[] = [];
  const evals: number[][] = [];
  const held: [number, number][] = [];
  for (const [i, b] of batches().entries()) {
    opt.lr = 0.01 / (i + 1);
    const a = answerLabels(b.targets, B, L, V);
    scored = a.scored;
    stepper.step([Int32Array.from(b.ids.flat()), a.labels], String(scored));
    losses.push((await stepper.loss.data())[0]!);
    evals.push(await evalForward(model));
    if (i >= 2) held.push([liveTensorCount(), getBackend(device).memoryBytes()]);
  }
  // From the first replay on, steps hold nothing new: no tensor, no device memory.
  assert.ok(held.every(([n, bytes]) => n === held[0]![0] && bytes === held[0]![1]), `live tensors and bytes per replayed step: ${JSON.stringify(held)}`);
  const snap = await snapshot(model);
  const replays = stepper.replayed;
  stepper.dispose();
  opt.dispose();
  model.dispose();
  return { params: snap, losses, evals, replays };
}

for (const device of await availableDevices()) {
  for (const selective of [true, false]) {
    test(`${device}: replayed training steps give the ordinary steps' parameters to the bit (${selective ? 'S6' : 'LTI ablation'})`, async () => {
      const a = await ordinary(device, selective);
      const b = await replayed(device, selective);
      assert.equal(b.replays, device === 'webgpu' ? STEPS - 2 : 0, 'WebGPU replays every step after the recorded second one');
      assert.deepEqual(b.losses, a.losses);
      assert.deepEqual(b.evals, a.evals, 'forwards between the steps see the same parameters');
      for (const [name, bytes] of a.params) assert.ok(bytes.equals(b.params.get(name)!), `${name} differs after ${STEPS} steps`);
      // The steps trained: the parameters moved from their initial values.
      const init = await snapshot(tinyModel(device, selective));
      assert.ok([...init].some(([name, bytes]) => !bytes.equals(a.params.get(name)!)));
    });
  }
}

/** The logits of the last position, by a forward of the whole sequence and by decoding it token by token. */
async function forwardAndDecoded(model: MambaForCausalLM, ids: number[]): Promise<[number[], number[]]> {
  const out = await noGrad(() => model.forward([ids]));
  const V = out.logits.shape[2]!;
  const all = (await out.logits.data()) as Float32Array;
  out.logits.dispose();
  const cache = model.createCache(1);
  let last: number[] = [];
  for (const id of ids) {
    const l = noGrad(() => model.nextLogits([[id]], cache));
    last = Array.from((await l.data()) as Float32Array);
    l.dispose();
  }
  cache.dispose();
  return [Array.from(all.subarray(all.length - V)), last];
}

for (const device of await availableDevices()) {
  test(`${device}: decoding after in-place training steps sees the new parameters (no stale packed copies)`, async () => {
    const model = tinyModel(device, true);
    const ids = [1, 2, 3, 4, 5];
    await forwardAndDecoded(model, ids); // decode once before training: the backend may pack parameters now
    const opt = new AdamW(model.namedParameters(), { lr: 0.05 });
    const params = model.namedParameters().map(([, p]) => p);
    for (const b of batches().slice(0, 2)) {
      await trainStep(opt, params, async () => {
        const out = await model.forward(b.ids);
        const loss = answerLoss(out.logits, b.targets);
        out.logits.dispose();
        return loss;
      }, { gradClip: 1 });
    }
    const [whole, decoded] = await forwardAndDecoded(model, ids);
    whole.forEach((x, i) => assert.ok(Math.abs(x - decoded[i]!) <= 1e-4 * (1 + Math.abs(x)), `logit ${i}: forward ${x}, decoded ${decoded[i]}`));
    opt.dispose();
    model.dispose();
  });
}

test('ReplayedTrainStep refuses batches that do not fit its inputs', () => {
  const model = tinyModel('cpu', true);
  const opt = new AdamW(model.namedParameters(), { lr: 0.01 });
  const stepper = new ReplayedTrainStep({
    opt,
    params: model.namedParameters().map(([, p]) => p),
    device: 'cpu',
    gradClip: 1,
    inputs: [{ shape: [B, L], dtype: 'i32' }],
    lossOf: () => {
      throw new Error('not reached');
    },
  });
  assert.throws(() => stepper.step([]), /0 inputs for 1/);
  assert.throws(() => stepper.step([new Int32Array(3)]), /input 0 has 3 values, expected 80 \(shape \[2, 40\]\)/);
  stepper.dispose();
  opt.dispose();
  model.dispose();
});

/**
 * A step whose gradients are not finite updates nothing on either path, and the optimizer's step
 * count stays (the replayed step learns it from read()), so the next step's bias corrections — and
 * parameters — are the ordinary path's.
 */
for (const device of await availableDevices()) {
  test(`${device}: after a non-finite step, replayed steps still give the ordinary steps' parameters`, async () => {
    const scales = [1, Number.NaN, 1, 1];
    const bs = batches();
    const run = async (replay: boolean) => {
      const model = tinyModel(device, true);
      const opt = new AdamW(model.namedParameters(), { lr: 0.01, weightDecay: 0.1 });
      const params = model.namedParameters().map(([, p]) => p);
      const lossWith = (logits: import('../src/tensor/tensor.js').Tensor, loss: import('../src/tensor/tensor.js').Tensor, scale: import('../src/tensor/tensor.js').Tensor) => {
        logits.dispose();
        return mul(loss, scale);
      };
      const norms: number[] = [];
      if (!replay) {
        for (const [i, scale] of scales.entries()) {
          const r = await trainStep(opt, params, async () => {
            const out = await model.forward(bs[i]!.ids);
            return lossWith(out.logits, answerLoss(out.logits, bs[i]!.targets), tensor([scale], [1], { device }));
          }, { gradClip: 0.5 });
          norms.push(r.updated ? 1 : Number.NaN);
        }
      } else {
        let scored = 0;
        const stepper = new ReplayedTrainStep({
          opt,
          params,
          device,
          gradClip: 0.5,
          inputs: [
            { shape: [B, L], dtype: 'i32' },
            { shape: [B * L], dtype: 'i32' },
            { shape: [1], dtype: 'f32' },
          ],
          lossOf: ([ids, labels, scale]) => {
            const out = model.forwardSync(ids!);
            return lossWith(out.logits, answerLossOn(out.logits, labels!, scored), scale!);
          },
        });
        for (const [i, scale] of scales.entries()) {
          const a = answerLabels(bs[i]!.targets, B, L, V);
          scored = a.scored;
          stepper.step([Int32Array.from(bs[i]!.ids.flat()), a.labels, Float32Array.of(scale)], String(scored));
          const r = await stepper.read();
          norms.push(Number.isFinite(r.gradNorm) ? 1 : Number.NaN);
        }
        stepper.dispose();
      }
      const step = opt.step;
      const snap = await snapshot(model);
      opt.dispose();
      model.dispose();
      return { snap, step, norms };
    };
    const a = await run(false);
    const b = await run(true);
    assert.deepEqual(b.norms, a.norms, 'the same step was skipped');
    assert.equal(a.step, 3);
    assert.equal(b.step, 3, 'the skipped step does not count');
    for (const [name, bytes] of a.snap) assert.ok(bytes.equals(b.snap.get(name)!), `${name} differs`);
  });
}
