/**
 * Llama's replayed decode steps (LlamaDecodeStepper, WebGPU: attention and RoPE at positions held
 * on the device) against the usual steps: the same greedy tokens and the same final cache (KV
 * buffers, counters, mask) for batch 1 and 3, a left-padded batch (per-row RoPE positions), across
 * a growth of the KV caches; the replay really happens. generate() gives the same tokens with and
 * without it. The Transformer baseline thus decodes through the same engine as Mamba and Jamba.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LlamaConfig } from '../src/models/llama/config.js';
import { initLlamaWeights } from '../src/models/llama/init.js';
import { LlamaForCausalLM } from '../src/models/llama/modeling.js';
import type { LlamaCache } from '../src/models/llama/cache.js';
import { argmax, reshape } from '../src/ops/index.js';
import { checkGenerateSameWithAndWithoutReplay, checkReplayEqualsSteps, webgpuOrSkip } from './kv-stepper-check.js';

const V = 64;

function tinyLlama(device: 'cpu' | 'webgpu'): LlamaForCausalLM {
  const config = LlamaConfig.create({
    vocab_size: V,
    hidden_size: 32,
    intermediate_size: 48,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
  });
  const model = new LlamaForCausalLM(config);
  initLlamaWeights(model, 5, device);
  return model;
}

async function dump(cache: LlamaCache): Promise<Map<string, ArrayLike<number> | number | string>> {
  const m = new Map<string, ArrayLike<number> | number | string>();
  m.set('seqlenOffset', cache.seqlenOffset);
  m.set('attentionMask', JSON.stringify(cache.attentionMask));
  for (const [i, kv] of cache.layers.entries()) {
    m.set(`${i}.length`, kv!.length);
    m.set(`${i}.capacity`, kv!.capacity);
    m.set(`${i}.k`, await kv!.k.data());
    m.set(`${i}.v`, await kv!.v.data());
  }
  return m;
}

const prompt = (B: number, L: number) => Array.from({ length: B }, (_, b) => Array.from({ length: L }, (_, i) => (b * 13 + i * 7 + 2) % V));

// A 6-token prompt gets KV caches of 16 positions: 14 steps cross one growth (to 32).
for (const B of [1, 3]) {
  test(`webgpu: Llama's replayed greedy steps equal the usual steps, batch ${B}, across a KV growth`, async (t) => {
    if (!(await webgpuOrSkip(t))) return;
    const model = tinyLlama('webgpu');
    await checkReplayEqualsSteps(model, prompt(B, 6), 14, dump, 2);
    model.dispose();
  });
}

test('webgpu: Llama\'s replayed greedy steps equal the usual steps for a left-padded batch', async (t) => {
  if (!(await webgpuOrSkip(t))) return;
  const model = tinyLlama('webgpu');
  const ragged = [prompt(1, 6)[0]!, prompt(2, 2)[1]!, prompt(3, 5)[2]!];
  await checkReplayEqualsSteps(model, ragged, 12, dump, 2);
  model.dispose();
});

test('webgpu: Llama\'s replayed steps after a usual step on the same cache (position uploaded again, recorded again)', async (t) => {
  if (!(await webgpuOrSkip(t))) return;
  const model = tinyLlama('webgpu');
  await checkReplayEqualsSteps(model, prompt(2, 6), 8, dump, 2, 4);
  model.dispose();
});

test('webgpu: generate gives the same tokens with and without Llama\'s replayed steps', async (t) => {
  if (!(await webgpuOrSkip(t))) return;
  const model = tinyLlama('webgpu');
  await checkGenerateSameWithAndWithoutReplay(model, [[3, 9, 27, 17], [5, 8]], 12);
  model.dispose();
});

test('cpu: Llama has no decode stepper (no recorded work)', () => {
  const model = tinyLlama('cpu');
  const cache = model.createCache(1);
  model.nextLogits([[1, 2, 3]], cache).dispose();
  assert.equal(model.decodeStepper(cache, (l) => reshape(argmax(l), [1, 1])), null);
  cache.dispose();
  model.dispose();
});
