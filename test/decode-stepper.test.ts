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
import { argmax, reshape } from '../src/ops/index.js';
import { tidy } from '../src/tensor/memory.js';
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
    // The usual way: nextLogits and argmax every step.
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
    // Through the stepper.
    const cache = model.createCache(B);
    const first = argmaxIds(model.nextLogits(prompt, cache), B);
    const stepper = model.decodeStepper(cache, (logits) => reshape(argmax(logits), [B, 1]));
    assert.ok(stepper, 'WebGPU has a decode stepper');
    const replayedTokens: number[][] = [];
    let next = first;
    for (let s = 0; s < steps; s++) {
      next = stepper.step(next);
      replayedTokens.push(Array.from((await next.data()) as Int32Array));
    }
    first.dispose();
    assert.deepEqual(replayedTokens, plain);
    // Two steps are recorded (one per parity of the state buffers), the rest replayed; batches over
    // 4 rows take the blocked kernels.
    assert.equal(stepper.replayed, steps - 2);
    assert.equal(cache.seqlenOffset, plainCache.seqlenOffset);
    for (let i = 0; i < cache.states.length; i++) {
      for (const k of ['conv', 'ssm'] as const) {
        const [a, b] = [await cache.states[i]![k].data(), await plainCache.states[i]![k].data()];
        assert.deepEqual(a, b, `layer ${i} ${k} state`);
      }
    }
    stepper.dispose();
    cache.dispose();
    plainCache.dispose();
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
