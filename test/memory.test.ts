/** Decoding must not leak: 2,000 steps leave the live-tensor count and process memory flat. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { liveTensorCount } from '../src/tensor/memory.js';
import { getBackend } from '../src/backend/registry.js';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fixture } from './helpers.js';
import { availableDevices } from './devices.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

test('2,000 decode steps keep live tensors, backend bytes and process memory flat', async () => {
  const model = await MambaForCausalLM.fromPretrained(fixture('hf', 'mamba-tiny', 'model'));
  const cache = model.createCache(1);
  model.nextLogits([[1, 2, 3, 4]], cache).dispose();
  const step = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const lg = model.nextLogits([[(i * 31) % 512]], cache);
      await lg.data();
      lg.dispose();
    }
  };
  await step(2000); // warm up: the JIT and the allocator's arenas settle first
  gc();
  const tensors0 = liveTensorCount();
  const bytes0 = getBackend('cpu').memoryBytes();
  const heap0 = process.memoryUsage().heapUsed;
  const rss0 = process.memoryUsage().rss;
  await step(2000);
  gc();
  assert.equal(liveTensorCount(), tensors0, 'live tensors grew');
  assert.equal(getBackend('cpu').memoryBytes(), bytes0, 'backend bytes grew');
  const heapGrowth = process.memoryUsage().heapUsed - heap0;
  const rssGrowth = process.memoryUsage().rss - rss0;
  // A leak of even one 2 KiB state per step would be 4 MB; allow GC noise below that.
  assert.ok(heapGrowth < 4e6, `heap grew by ${heapGrowth} bytes`);
  assert.ok(rssGrowth < 16e6, `rss grew by ${rssGrowth} bytes`);
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
  const step = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const lg = model.nextLogits([[(i * 31) % 512]], cache);
      await lg.data();
      lg.dispose();
    }
  };
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
