/**
 * Greedy decoding by replayed device work (MambaDecodeStepper, WebGPU) against the same steps run
 * as usual: identical tokens and identical final states, and the replay really happens, for
 * batches of the specialised (<= 4 rows) and the blocked kernels; the recorded steps make no
 * parameter packs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MambaConfig } from '../src/models/mamba/config.js';
import { initMambaWeights } from '../src/models/mamba/init.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import type { MambaCache } from '../src/models/mamba/cache.js';
import { argmax, reshape } from '../src/ops/index.js';
import { liveTensorCount, tidy } from '../src/tensor/memory.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { availableDevices } from './devices.js';
import { getBackend } from '../src/backend/registry.js';
import type { WebGpuBackend } from '../src/backend/webgpu/index.js';

const V = 64;

async function webgpuModel(t: { skip(reason: string): void }): Promise<MambaForCausalLM | null> {
  if (!(await availableDevices()).includes('webgpu')) {
    t.skip('no WebGPU adapter');
    return null;
  }
  const model = new MambaForCausalLM(MambaConfig.create({ hidden_size: 48, state_size: 16, num_hidden_layers: 3, vocab_size: V }));
  initMambaWeights(model, 11, 'webgpu');
  return model;
}

const argmaxIds = (logits: Tensor, B: number): Tensor => tidy(() => reshape(argmax(logits), [B, 1]));

for (const B of [1, 3, 5, 10]) {
  test(`replayed greedy steps equal the usual steps, batch ${B}`, async (t) => {
    const model = await webgpuModel(t);
    if (!model) return;
    const prompt = Array.from({ length: B }, (_, b) => Array.from({ length: 6 }, (_, i) => (b * 17 + i * 5 + 1) % V));
    const steps = 9;
    // Through the stepper (its own recordings: no key), against the usual way (nextLogits and
    // argmax every step): the same tokens and the same states.
    const { tokens, stepper, cache } = await keptTokens(model, prompt, steps, undefined);
    const plain = await plainTokens(model, prompt, steps, async (plainCache) => {
      assert.equal(cache.seqlenOffset, plainCache.seqlenOffset);
      for (let i = 0; i < cache.states.length; i++) {
        for (const k of ['conv', 'ssm'] as const) {
          const [a, b] = [await cache.states[i]![k].data(), await plainCache.states[i]![k].data()];
          assert.deepEqual(a, b, `layer ${i} ${k} state`);
        }
      }
    });
    assert.deepEqual(tokens, plain);
    // Two steps are recorded (one per parity of the state buffers), the rest replayed; batches over
    // 4 rows take the blocked kernels.
    assert.equal(stepper.replayed, steps - 2);
    stepper.dispose();
    cache.dispose();
    model.dispose();
  });
}

test('generate gives the same tokens with and without replayed steps, stopping at eos mid-group', async (t) => {
  const model = await webgpuModel(t);
  if (!model) return;
  const prompt = [[3, 9, 27, 17]];
  const run = async (graph: boolean, eos: number | null) => {
    if (graph) delete process.env['MAMBA_TS_DECODE_GRAPH'];
    else process.env['MAMBA_TS_DECODE_GRAPH'] = '0';
    try {
      return await model.generate(prompt, { maxNewTokens: 21, eosTokenId: eos });
    } finally {
      delete process.env['MAMBA_TS_DECODE_GRAPH'];
    }
  };
  const plain = await run(false, null);
  assert.deepEqual(await run(true, null), plain);
  // Stop at a token generated after the first group of 8.
  const eos = plain[0]![prompt[0]!.length + 10]!;
  const stopped = await run(true, eos);
  assert.deepEqual(stopped, await run(false, eos));
  assert.equal(stopped[0]!.at(-1), eos);
  model.dispose();
});

test('the recorded steps make no parameter packs (made before recording: else every replay would copy the parameters again)', async (t) => {
  const model = await webgpuModel(t);
  if (!model) return;
  const gpu = getBackend('webgpu') as WebGpuBackend;
  const cache = model.createCache(1);
  let ids = argmaxIds(model.nextLogits([[1, 2, 3]], cache), 1);
  const stepper = model.decodeStepper(cache, (l) => argmaxIds(l, 1));
  assert.ok(stepper);
  const packs = gpu.packsMade;
  for (let s = 0; s < 2; s++) ids = stepper.step(ids); // the two recorded steps of the buffers' cycle
  assert.equal(gpu.packsMade, packs);
  stepper.dispose();
  cache.dispose();
  model.dispose();
});

/** `steps` usual steps (nextLogits + argmax) on `cache` from `ids` (disposed): the greedy tokens. */
async function usualSteps(model: MambaForCausalLM, cache: MambaCache, ids: Tensor, steps: number): Promise<number[][]> {
  const B = cache.batchSize;
  const out: number[][] = [];
  for (let s = 0; s < steps; s++) {
    const logits = model.nextLogits(ids, cache);
    ids.dispose();
    ids = argmaxIds(logits, B);
    logits.dispose();
    out.push(Array.from((await ids.data()) as Int32Array));
  }
  ids.dispose();
  return out;
}

/** Greedy tokens of `steps` usual steps after `prompt`; `end` gets the states they leave. */
async function plainTokens(model: MambaForCausalLM, prompt: number[][], steps: number, end?: (cache: MambaCache) => Promise<void>): Promise<number[][]> {
  const cache = model.createCache(prompt.length);
  const out = await usualSteps(model, cache, argmaxIds(model.nextLogits(prompt, cache), prompt.length), steps);
  await end?.(cache);
  cache.dispose();
  return out;
}

/** `steps` tokens through a stepper keyed "argmax"; the stepper is returned undisposed with its cache. */
async function keptTokens(model: MambaForCausalLM, prompt: number[][], steps: number, key: string | undefined = 'argmax') {
  const B = prompt.length;
  const cache = model.createCache(B);
  const first = argmaxIds(model.nextLogits(prompt, cache), B);
  const stepper = model.decodeStepper(cache, (l) => argmaxIds(l, B), key);
  assert.ok(stepper);
  const tokens: number[][] = [];
  let next = first;
  for (let s = 0; s < steps; s++) {
    next = stepper.step(next);
    tokens.push(Array.from((await next.data()) as Int32Array));
  }
  first.dispose();
  return { tokens, stepper, cache };
}

for (const B of [1, 6]) {
  test(`recordings kept across generations: the next one replays every step and gives the usual tokens, batch ${B}`, async (t) => {
    const model = await webgpuModel(t);
    if (!model) return;
    const prompts = [0, 1, 2].map((g) => Array.from({ length: B }, (_, b) => Array.from({ length: 5 + g }, (_, i) => (g * 31 + b * 17 + i * 5 + 2) % V)));
    const steps = 7;
    const a = await keptTokens(model, prompts[0]!, steps);
    assert.deepEqual(a.tokens, await plainTokens(model, prompts[0]!, steps));
    assert.equal(a.stepper.replayed, steps - 2, 'the first generation records two steps');
    // While the first holds the recordings, a concurrent generation records its own.
    const c = await keptTokens(model, prompts[2]!, steps);
    assert.equal(c.stepper.replayed, steps - 2);
    assert.deepEqual(c.tokens, await plainTokens(model, prompts[2]!, steps));
    c.stepper.dispose();
    c.cache.dispose();
    a.cache.dispose();
    a.stepper.dispose();
    // The next generation (another prompt, another length) replays from its first step.
    const b = await keptTokens(model, prompts[1]!, steps);
    assert.equal(b.stepper.replayed, steps, 'nothing recorded again');
    assert.deepEqual(b.tokens, await plainTokens(model, prompts[1]!, steps));
    b.cache.dispose();
    b.stepper.dispose();
    model.dispose();
  });
}

test('a cache still used after its stepper keeps its states, whatever the next generation writes into the kept buffers', async (t) => {
  const model = await webgpuModel(t);
  if (!model) return;
  const [p1, p2] = [[[4, 8, 15, 16]], [[23, 42, 7]]];
  const a = await keptTokens(model, p1, 5);
  a.stepper.dispose(); // the cache gets its own copy of its states
  const b = await keptTokens(model, p2, 5); // decodes in the buffers a's cache had borrowed
  assert.equal(b.stepper.replayed, 5);
  // a's cache goes on as usual from where its stepper left it: the same as 9 usual steps.
  const last = argmaxIds(model.nextLogits([[a.tokens.at(-1)![0]!]], a.cache), 1);
  const more = [Array.from((await last.data()) as Int32Array), ...(await usualSteps(model, a.cache, last, 3))];
  assert.deepEqual([...a.tokens, ...more], await plainTokens(model, p1, 9));
  a.cache.dispose();
  b.cache.dispose();
  b.stepper.dispose();
  model.dispose();
});

test('kept recordings are dropped when the parameters change: the next generation records again with the new weights', async (t) => {
  const model = await webgpuModel(t);
  if (!model) return;
  const prompt = [[9, 1, 33, 2]];
  const a = await keptTokens(model, prompt, 6);
  a.cache.dispose();
  a.stepper.dispose();
  // New values for every parameter (replaced tensors: the recordings bound the old buffers).
  initMambaWeights(model, 12, 'webgpu');
  const b = await keptTokens(model, prompt, 6);
  assert.equal(b.stepper.replayed, 4, 'recorded again');
  // The states too (this tiny model's argmax may not move with the weights; its states do).
  const states = async (c: MambaCache) => Promise.all(c.states.map(async (s) => [await s!.conv.data(), await s!.ssm.data()]));
  const plain = await plainTokens(model, prompt, 6, async (c) => assert.deepEqual(await states(b.cache), await states(c)));
  assert.deepEqual(b.tokens, plain);
  b.cache.dispose();
  b.stepper.dispose();
  // An in-place update (an optimizer step marks its parameters updated): recorded again too.
  model.namedParameters()[0]![1].markUpdated();
  const c = await keptTokens(model, prompt, 6);
  assert.equal(c.stepper.replayed, 4, 'recorded again after an in-place update');
  c.cache.dispose();
  c.stepper.dispose();
  const d = await keptTokens(model, prompt, 6);
  assert.equal(d.stepper.replayed, 6, 'and kept from then on');
  d.cache.dispose();
  d.stepper.dispose();
  model.dispose();
});

test('MAMBA_TS_KEEP_DECODE_GRAPHS=0: every generation records its own steps', async (t) => {
  const model = await webgpuModel(t);
  if (!model) return;
  process.env['MAMBA_TS_KEEP_DECODE_GRAPHS'] = '0';
  try {
    for (let g = 0; g < 2; g++) {
      const r = await keptTokens(model, [[5, 6, 7]], 4);
      assert.equal(r.stepper.replayed, 2);
      r.cache.dispose();
      r.stepper.dispose();
    }
  } finally {
    delete process.env['MAMBA_TS_KEEP_DECODE_GRAPHS'];
  }
  model.dispose();
});

test('a stepper without a key records in the cache\'s own buffers (no state sets of its own); dispose twice is harmless', async (t) => {
  const model = await webgpuModel(t);
  if (!model) return;
  const prompt = [[3, 1, 4, 1, 5]];
  const cache = model.createCache(1);
  const first = argmaxIds(model.nextLogits(prompt, cache), 1);
  const live = liveTensorCount();
  const stepper = model.decodeStepper(cache, (l) => argmaxIds(l, 1));
  assert.ok(stepper);
  assert.equal(liveTensorCount() - live, 1, 'only its ids buffer');
  let next = first;
  const tokens: number[][] = [];
  for (let s = 0; s < 5; s++) {
    next = stepper.step(next);
    tokens.push(Array.from((await next.data()) as Int32Array));
  }
  first.dispose();
  assert.deepEqual(tokens, await plainTokens(model, prompt, 5));
  stepper.dispose();
  stepper.dispose();
  assert.throws(() => stepper.step(first), /after dispose/);
  // A kept slot released twice would be handed to two generations at once.
  const a = await keptTokens(model, prompt, 2);
  a.stepper.dispose();
  const b = await keptTokens(model, prompt, 2);
  a.stepper.dispose();
  const c = await keptTokens(model, prompt, 2);
  assert.equal(b.stepper.replayed, 2);
  assert.equal(c.stepper.replayed, 0, 'b still holds the slot: c records its own');
  for (const r of [a, b, c]) {
    r.cache.dispose();
    r.stepper.dispose();
  }
  cache.dispose();
  model.dispose();
});
