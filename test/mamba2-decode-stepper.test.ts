/**
 * Mamba-2 greedy decoding by replayed device work (Mamba2DecodeStepper, WebGPU) against the same
 * steps run as usual: identical tokens and final states, the replay really happens (also with
 * several groups, whose norm and dt clamp use constants made once), and generate() agrees with and
 * without it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Mamba2Config, type Mamba2ConfigFields } from '../src/models/mamba2/config.js';
import { initMamba2Weights } from '../src/models/mamba2/init.js';
import { Mamba2ForCausalLM } from '../src/models/mamba2/modeling.js';
import { argmax, reshape } from '../src/ops/index.js';
import { tidy } from '../src/tensor/memory.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { assertClose } from './helpers.js';
import { availableDevices } from './devices.js';

const V = 64;

async function webgpuModel(t: { skip(reason: string): void }, extra: Partial<Mamba2ConfigFields> = {}): Promise<Mamba2ForCausalLM | null> {
  if (!(await availableDevices()).includes('webgpu')) {
    t.skip('no WebGPU adapter');
    return null;
  }
  const model = new Mamba2ForCausalLM(Mamba2Config.create({ hidden_size: 32, head_dim: 16, n_groups: 1, state_size: 8, chunk_size: 4, num_hidden_layers: 2, vocab_size: V, ...extra }));
  initMamba2Weights(model, 11, 'webgpu');
  return model;
}

const argmaxIds = (logits: Tensor, B: number): Tensor => tidy(() => reshape(argmax(logits), [B, 1]));

for (const [name, extra] of [
  ['one group', {}],
  ['two groups, dt clamped', { n_groups: 2, time_step_limit: [0.001, 0.5] as [number, number] }],
] as const) {
  test(`replayed greedy steps equal the usual steps: ${name}`, async (t) => {
    const model = await webgpuModel(t, extra);
    if (!model) return;
    const B = 3;
    const prompt = Array.from({ length: B }, (_, b) => Array.from({ length: 6 }, (_, i) => (b * 17 + i * 5 + 1) % V));
    const steps = 7;
    const plainCache = model.createCache(B);
    let ids = argmaxIds(model.nextLogits(prompt, plainCache), B);
    const plain: number[][] = [];
    for (let s = 0; s < steps; s++) {
      const logits = model.nextLogits(ids, plainCache);
      ids.dispose();
      ids = argmaxIds(logits, B);
      logits.dispose();
      plain.push(Array.from((await ids.data()) as Int32Array));
    }
    ids.dispose();
    const cache = model.createCache(B);
    const first = argmaxIds(model.nextLogits(prompt, cache), B);
    const stepper = model.decodeStepper(cache, (logits) => reshape(argmax(logits), [B, 1]));
    assert.ok(stepper, 'WebGPU has a decode stepper');
    const replayed: number[][] = [];
    let next = first;
    for (let s = 0; s < steps; s++) {
      next = stepper.step(next);
      replayed.push(Array.from((await next.data()) as Int32Array));
    }
    first.dispose();
    assert.deepEqual(replayed, plain);
    assert.equal(stepper.replayed, steps - 1, 'one step recorded, the rest replayed');
    assert.equal(cache.seqlenOffset, plainCache.seqlenOffset);
    for (let i = 0; i < cache.states.length; i++) {
      for (const k of ['conv', 'ssm'] as const) {
        assertClose(`layer ${i} ${k} state`, await cache.states[i]![k].data(), await plainCache.states[i]![k].data(), 1e-6);
      }
    }
    stepper.dispose();
    cache.dispose();
    plainCache.dispose();
    model.dispose();
  });
}

test('Mamba-2 generate gives the same tokens with and without replayed steps', async (t) => {
  const model = await webgpuModel(t);
  if (!model) return;
  const prompt = [[3, 9, 27, 17], [5, 1, 60, 2]];
  const run = async (graph: boolean) => {
    if (graph) delete process.env['MAMBA_TS_DECODE_GRAPH'];
    else process.env['MAMBA_TS_DECODE_GRAPH'] = '0';
    try {
      return await model.generate(prompt, { maxNewTokens: 12, eosTokenId: null });
    } finally {
      delete process.env['MAMBA_TS_DECODE_GRAPH'];
    }
  };
  assert.deepEqual(await run(true), await run(false));
  model.dispose();
});

test('no decode stepper on the CPU', () => {
  const model = new Mamba2ForCausalLM(Mamba2Config.create({ hidden_size: 32, head_dim: 16, n_groups: 1, state_size: 8, num_hidden_layers: 1, vocab_size: V }));
  initMamba2Weights(model, 1, 'cpu');
  const cache = model.createCache(1);
  model.nextLogits([[1, 2]], cache).dispose();
  assert.equal(model.decodeStepper(cache, (l) => argmax(l)), null);
  cache.dispose();
  model.dispose();
});
