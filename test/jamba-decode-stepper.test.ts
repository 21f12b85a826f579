/**
 * Jamba's replayed decode steps (JambaDecodeStepper, WebGPU: attention at a device-held position,
 * MoE routed on the device, Mamba states written back in place) against the usual steps: the same
 * greedy tokens and the same final cache (KV buffers, Mamba states, counters, mask) for batch 1
 * and 3, a left-padded batch, across a growth of the KV caches; and the replay really happens.
 * generate() gives the same tokens with and without it. The recorded step runs each Mamba layer
 * through the fused step (inner norms, in place), with its parameters packed beforehand.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JambaConfig } from '../src/models/jamba/config.js';
import { initJambaWeights } from '../src/models/jamba/init.js';
import { JambaForCausalLM } from '../src/models/jamba/modeling.js';
import type { JambaCache } from '../src/models/jamba/cache.js';
import { argmax, reshape } from '../src/ops/index.js';
import { checkGenerateSameWithAndWithoutReplay, checkReplayEqualsSteps, webgpuOrSkip } from './kv-stepper-check.js';
import { getBackend } from '../src/backend/registry.js';
import type { WebGpuBackend } from '../src/backend/webgpu/index.js';
import type { LaunchGraph } from '../src/backend/webgpu/context.js';

const V = 64;

function tinyJamba(device: 'cpu' | 'webgpu'): JambaForCausalLM {
  // Layers: Mamba+dense, attention+MoE, Mamba+dense, attention+MoE.
  const config = JambaConfig.create({
    vocab_size: V,
    hidden_size: 32,
    intermediate_size: 24,
    num_hidden_layers: 4,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    num_experts: 4,
    num_experts_per_tok: 2,
    expert_layer_period: 2,
    expert_layer_offset: 1,
    attn_layer_period: 2,
    attn_layer_offset: 1,
    mamba_d_state: 8,
    mamba_expand: 2,
  });
  const model = new JambaForCausalLM(config);
  initJambaWeights(model, 7, device);
  return model;
}

async function dump(cache: JambaCache): Promise<Map<string, ArrayLike<number> | number | string>> {
  const m = new Map<string, ArrayLike<number> | number | string>();
  m.set('seqlenOffset', cache.seqlenOffset);
  m.set('attentionMask', JSON.stringify(cache.attentionMask));
  for (const [i, s] of cache.layers.entries()) {
    if (s?.kind === 'attention') {
      m.set(`${i}.length`, s.kv.length);
      m.set(`${i}.capacity`, s.kv.capacity);
      m.set(`${i}.k`, await s.kv.k.data());
      m.set(`${i}.v`, await s.kv.v.data());
    } else if (s?.kind === 'mamba') {
      m.set(`${i}.conv`, await s.state.conv.data());
      m.set(`${i}.ssm`, await s.state.ssm.data());
    }
  }
  return m;
}

const prompt = (B: number, L: number) => Array.from({ length: B }, (_, b) => Array.from({ length: L }, (_, i) => (b * 17 + i * 5 + 1) % V));

// A 6-token prompt gets KV caches of 16 positions: 14 steps cross one growth (to 32), so the
// stepper records twice and replays the rest.
for (const B of [1, 3, 12]) {
  test(`webgpu: Jamba's replayed greedy steps equal the usual steps, batch ${B}, across a KV growth`, async (t) => {
    if (!(await webgpuOrSkip(t))) return;
    const model = tinyJamba('webgpu');
    await checkReplayEqualsSteps(model, prompt(B, 6), 14, dump, 2);
    model.dispose();
  });
}

test('webgpu: Jamba\'s replayed greedy steps equal the usual steps for a left-padded batch', async (t) => {
  if (!(await webgpuOrSkip(t))) return;
  const model = tinyJamba('webgpu');
  const ragged = [prompt(1, 6)[0]!, prompt(2, 3)[1]!, prompt(3, 5)[2]!];
  await checkReplayEqualsSteps(model, ragged, 6, dump, 1);
  model.dispose();
});

test('webgpu: Jamba\'s replayed steps after a usual step on the same cache (position uploaded again, recorded again)', async (t) => {
  if (!(await webgpuOrSkip(t))) return;
  const model = tinyJamba('webgpu');
  await checkReplayEqualsSteps(model, prompt(2, 6), 8, dump, 2, 4);
  model.dispose();
});

test('webgpu: generate gives the same tokens with and without Jamba\'s replayed steps', async (t) => {
  if (!(await webgpuOrSkip(t))) return;
  const model = tinyJamba('webgpu');
  await checkGenerateSameWithAndWithoutReplay(model, [[3, 9, 27, 17], [5, 8]], 12);
  model.dispose();
});

test('cpu: Jamba has no decode stepper (no recorded work, no device routing)', async () => {
  const model = tinyJamba('cpu');
  const cache = model.createCache(1);
  (await model.nextLogits([[1, 2, 3]], cache)).dispose();
  assert.equal(model.decodeStepper(cache, (l) => reshape(argmax(l), [1, 1])), null);
  cache.dispose();
  model.dispose();
});

test('webgpu: Jamba\'s recorded step runs each Mamba layer through the fused step (inner norms, in place), its parameters packed before recording', async (t) => {
  if (!(await webgpuOrSkip(t))) return;
  const model = tinyJamba('webgpu');
  const gpu = getBackend('webgpu') as WebGpuBackend;
  const cache = model.createCache(1);
  const logits = await model.nextLogits(prompt(1, 4), cache);
  const ids = reshape(argmax(logits), [1, 1]);
  logits.dispose();
  const stepper = model.decodeStepper(cache, (l) => reshape(argmax(l), [1, 1]));
  assert.ok(stepper);
  const ctx = gpu.ctx;
  const endGraph = ctx.endGraph.bind(ctx);
  let graph: LaunchGraph | null = null;
  ctx.endGraph = () => (graph = endGraph());
  const packs = gpu.packsMade;
  try {
    stepper.step(ids);
  } finally {
    ctx.endGraph = endGraph;
  }
  assert.ok(graph, 'the step was recorded');
  const keys = (graph as LaunchGraph).commands.flatMap((c) => (c.kind === 'dispatch' ? [c.key] : []));
  const mambaLayers = model.model.layers.filter((l) => l.mamba).length;
  assert.equal(keys.filter((k) => k.startsWith('step_dt_ssm_') && k.endsWith('_norms_inplace')).length, mambaLayers, 'one fused state update per Mamba layer');
  assert.equal(keys.filter((k) => k.startsWith('state_update')).length, 0, 'no op-by-op state update');
  assert.equal(gpu.packsMade, packs, 'no parameter packs made (and copied on every replay) while recording');
  ids.dispose();
  stepper.dispose();
  cache.dispose();
  model.dispose();
});
