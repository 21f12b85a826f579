/**
 * Sampled generation with the draw on the device (WebGPU): the replayed decode step records the
 * sampleTokens launch, each replay drawing the next number of every row's stream, so it gives the
 * very tokens of the steps run as usual (MAMBA_TS_DECODE_GRAPH=0); a batch gives each row the
 * tokens it gets generated alone with seed + b (on the CPU too, through the host path); and the
 * logits never come back (only the token groups are read).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MambaConfig } from '../src/models/mamba/config.js';
import { initMambaWeights } from '../src/models/mamba/init.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { sampleTokens, tensor } from '../src/ops/index.js';
import { getBackend, type DeviceName } from '../src/backend/registry.js';
import { Rng } from '../src/generation/sampler.js';
import type { GenerateOptions } from '../src/generation/generate.js';
import { availableDevices } from './devices.js';

const V = 64;
const devices = await availableDevices();
const noGpu = devices.includes('webgpu') ? false : 'no WebGPU adapter';

function tinyMamba(device: DeviceName): MambaForCausalLM {
  const model = new MambaForCausalLM(MambaConfig.create({ hidden_size: 32, state_size: 8, num_hidden_layers: 2, vocab_size: V }));
  initMambaWeights(model, 5, device);
  return model;
}

const prompts = [
  [3, 9, 27, 17],
  [40, 2, 11, 5],
  [8, 8, 60, 33],
];
const sampling: GenerateOptions = { doSample: true, temperature: 1.3, topK: 40, topP: 0.9, minP: 0.02, seed: 7, eosTokenId: null };

async function generateWith(model: MambaForCausalLM, rows: number[][], o: GenerateOptions, graph = true): Promise<number[][]> {
  if (graph) delete process.env['MAMBA_TS_DECODE_GRAPH'];
  else process.env['MAMBA_TS_DECODE_GRAPH'] = '0';
  try {
    return await model.generate(rows, o);
  } finally {
    delete process.env['MAMBA_TS_DECODE_GRAPH'];
  }
}

test('a replayed step that draws on the device gives the tokens of the steps run as usual', { skip: noGpu }, async () => {
  const model = tinyMamba('webgpu');
  const B = 3;
  const o = { temperature: 1.2, topK: 30, topP: 0.95, minP: 0.01 };
  const state = () => tensor(Int32Array.from(prompts.flatMap((_, b) => new Rng(100 + b).state())), [B, 4], { device: 'webgpu' });
  const steps = 7;
  // As usual: nextLogits and a draw every step.
  const plainState = state();
  const plainCache = model.createCache(B);
  let ids = sampleTokens(model.nextLogits(prompts, plainCache), plainState, o);
  const plain: number[][] = [];
  for (let s = 0; s < steps; s++) {
    const logits = model.nextLogits(ids, plainCache);
    ids.dispose();
    ids = sampleTokens(logits, plainState, o);
    logits.dispose();
    plain.push(Array.from((await ids.data()) as Int32Array));
  }
  ids.dispose();
  // Recorded and replayed.
  const replayState = state();
  const cache = model.createCache(B);
  const first = sampleTokens(model.nextLogits(prompts, cache), replayState, o);
  const stepper = model.decodeStepper(cache, (logits) => sampleTokens(logits, replayState, o));
  assert.ok(stepper);
  const replayed: number[][] = [];
  let next = first;
  for (let s = 0; s < steps; s++) {
    next = stepper.step(next);
    replayed.push(Array.from((await next.data()) as Int32Array));
  }
  assert.equal(stepper.replayed, steps - 2, 'the steps after the two recorded ones are replays');
  assert.deepEqual(replayed, plain);
  assert.deepEqual(await replayState.data(), await plainState.data(), 'the generators advanced alike');
  assert.ok(new Set(plain.flat()).size > 3, 'the draws vary');
  for (const x of [first, plainState, replayState]) x.dispose();
  stepper.dispose();
  cache.dispose();
  plainCache.dispose();
  model.dispose();
});

for (const B of [1, 3]) {
  test(`sampled generate on WebGPU, batch ${B}: replayed = not replayed, token for token, and the logits stay on the device`, { skip: noGpu }, async () => {
    const model = tinyMamba('webgpu');
    const rows = prompts.slice(0, B);
    const o = { ...sampling, maxNewTokens: 19 };
    const backend = getBackend('webgpu');
    const read = backend.read.bind(backend);
    let reads = 0;
    backend.read = (...args) => (reads++, read(...args));
    let replayedRun: number[][];
    try {
      replayedRun = await generateWith(model, rows, o);
    } finally {
      backend.read = read;
    }
    // 19 tokens in groups of 8: three reads, where the host path reads the logits 19 times.
    assert.equal(reads, 3);
    assert.deepEqual(await generateWith(model, rows, o, false), replayedRun);
    assert.ok(new Set(replayedRun.flatMap((r) => r.slice(4))).size > 3, 'the draws vary');
    model.dispose();
  });
}

for (const device of devices) {
  test(`sampled generate on ${device}: row b of a batch is that prompt generated alone with seed + b`, async () => {
    const model = tinyMamba(device);
    const o = { ...sampling, maxNewTokens: 12 };
    const batch = await generateWith(model, prompts, o);
    for (let b = 0; b < prompts.length; b++) {
      const [alone] = await generateWith(model, [prompts[b]!], { ...o, seed: o.seed! + b });
      assert.deepEqual(batch[b], alone, `row ${b}`);
    }
    // The rows' streams differ (seed + b), and so would a batch with another seed.
    assert.notDeepEqual(batch, await generateWith(model, prompts, { ...o, seed: 8 }));
    model.dispose();
  });
}
