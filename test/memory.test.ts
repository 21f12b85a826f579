/** Decoding must not leak: 2,000 steps leave the live-tensor count and process memory flat. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { liveTensorCount } from '../src/tensor/memory.js';
import { getBackend } from '../src/backend/registry.js';
import type { WebGpuBackend } from '../src/backend/webgpu/index.js';
import { MambaConfig } from '../src/models/mamba/config.js';
import { initMambaWeights } from '../src/models/mamba/init.js';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fixture } from './helpers.js';
import { availableDevices } from './devices.js';

setFlagsFromString('--expose-gc');
const gcNow = runInNewContext('gc') as () => void;
/** Full collections with pauses between, so that array buffers (swept lazily) are really freed. */
async function gc(): Promise<void> {
  for (let i = 0; i < 4; i++) {
    gcNow();
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Decode steps that read the logits back each time, as a sampling loop does. */
async function decodeSteps(model: MambaForCausalLM, cache: ReturnType<MambaForCausalLM['createCache']>, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const lg = model.nextLogits([[(i * 31) % 512]], cache);
    await lg.data();
    lg.dispose();
  }
}

test('2,000 decode steps keep live tensors, backend bytes and process memory flat', async () => {
  const model = await MambaForCausalLM.fromPretrained(fixture('hf', 'mamba-tiny', 'model'));
  const cache = model.createCache(1);
  model.nextLogits([[1, 2, 3, 4]], cache).dispose();
  const step = (n: number) => decodeSteps(model, cache, n);
  await step(2000); // warm up: the JIT and the allocator's arenas settle first
  await gc();
  const tensors0 = liveTensorCount();
  const bytes0 = getBackend('cpu').memoryBytes();
  const mem0 = process.memoryUsage();
  await step(2000);
  await gc();
  const mem1 = process.memoryUsage();
  assert.equal(liveTensorCount(), tensors0, 'live tensors grew');
  assert.equal(getBackend('cpu').memoryBytes(), bytes0, 'backend bytes grew');
  // Typed arrays live outside the JS heap (arrayBuffers): a leaked 19 KB state per step would be
  // 38 MB there. RSS moves with the allocator's arenas, so it only gets a loose bound.
  const growth = (k: 'heapUsed' | 'arrayBuffers' | 'rss') => mem1[k] - mem0[k];
  assert.ok(growth('arrayBuffers') < 1e6, `arrayBuffers grew by ${growth('arrayBuffers')} bytes`);
  assert.ok(growth('heapUsed') < 2e6, `heap grew by ${growth('heapUsed')} bytes`);
  assert.ok(growth('rss') < 64e6, `rss grew by ${growth('rss')} bytes`);
  assert.equal(cache.seqlenOffset, 4 + 4000);
  cache.dispose();
  model.dispose();
});

test('2,000 decode steps on WebGPU keep live tensors and GPU bytes flat', async (t) => {
  const devices = await availableDevices();
  if (!devices.includes('webgpu')) {
    t.skip('no WebGPU adapter');
    return;
  }
  const model = await MambaForCausalLM.fromPretrained(fixture('hf', 'mamba-tiny', 'model'), { device: 'webgpu' });
  const gpu = getBackend('webgpu');
  const cache = model.createCache(1);
  model.nextLogits([[1, 2, 3, 4]], cache).dispose();
  const step = (n: number) => decodeSteps(model, cache, n);
  await step(100);
  const tensors0 = liveTensorCount();
  const bytes0 = gpu.memoryBytes();
  const cacheBytes0 = cache.memoryBytes();
  await step(2000);
  assert.equal(liveTensorCount(), tensors0, 'live tensors grew');
  assert.equal(gpu.memoryBytes(), bytes0, 'GPU bytes grew');
  assert.equal(cache.memoryBytes(), cacheBytes0, 'the decode state grew');
  cache.dispose();
  model.dispose();
});

test('decoding on WebGPU reuses its bind groups (the state alternates between two buffers per layer)', async (t) => {
  const devices = await availableDevices();
  if (!devices.includes('webgpu')) {
    t.skip('no WebGPU adapter');
    return;
  }
  // Rebuilding bind groups every token cost more host time than the launches themselves.
  const model = new MambaForCausalLM(MambaConfig.create({ hidden_size: 64, num_hidden_layers: 6, vocab_size: 512 }));
  initMambaWeights(model, 1, 'webgpu');
  const stats = (getBackend('webgpu') as WebGpuBackend).ctx.stats;
  const cache = model.createCache(1);
  model.nextLogits([[1, 2, 3, 4]], cache).dispose();
  await decodeSteps(model, cache, 10);
  const misses0 = stats.bindGroupMisses;
  await decodeSteps(model, cache, 100);
  const built = stats.bindGroupMisses - misses0;
  assert.ok(built < 10, `${built} bind groups built in 100 decode steps`);
  cache.dispose();
  model.dispose();
});

test('repeated greedy generation on WebGPU (replayed steps) keeps live tensors and GPU memory flat', async (t) => {
  const devices = await availableDevices();
  if (!devices.includes('webgpu')) {
    t.skip('no WebGPU adapter');
    return;
  }
  const model = new MambaForCausalLM(MambaConfig.create({ hidden_size: 64, num_hidden_layers: 3, vocab_size: 256 }));
  initMambaWeights(model, 2, 'webgpu');
  const gpu = getBackend('webgpu') as WebGpuBackend;
  const run = () => model.generate([[5, 6, 7]], { maxNewTokens: 20, eosTokenId: null });
  const first = await run();
  for (let i = 0; i < 3; i++) await run();
  const tensors0 = liveTensorCount();
  const bytes0 = gpu.memoryBytes();
  const pool0 = gpu.ctx.pool.heldBytes() + gpu.ctx.pool.pooledBytes();
  for (let i = 0; i < 30; i++) assert.deepEqual(await run(), first);
  assert.equal(liveTensorCount(), tensors0, 'live tensors grew');
  assert.equal(gpu.memoryBytes(), bytes0, 'tensor bytes grew');
  assert.equal(gpu.ctx.pool.heldBytes() + gpu.ctx.pool.pooledBytes(), pool0, 'the buffer pool grew');
  model.dispose();
});
