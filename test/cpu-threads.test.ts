/**
 * The CPU backend end to end on its WebAssembly kernels: a model's prefill logits and decode steps
 * give the same bits on 1 and on 3 threads, and a bf16 checkpoint loads with its matmul and
 * embedding weights packed (about half the float32 bytes) and gives HF's logits.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { cpuKernelInfo, getBackend, setCpuThreads } from '../src/backend/registry.js';
import { MambaConfig } from '../src/models/mamba/config.js';
import { initMambaWeights } from '../src/models/mamba/init.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { storageBytes } from '../src/tensor/dtype.js';
import { fixture } from './helpers.js';

const threadsBefore = cpuKernelInfo().threads;
after(() => setCpuThreads(threadsBefore));

test('the CPU runs the WebAssembly kernels here, on the threads asked for', () => {
  const info = cpuKernelInfo();
  assert.equal(info.kernels, 'wasm', info.reason);
  assert.equal(info.sharedMemory, true);
  setCpuThreads(3);
  assert.equal(cpuKernelInfo().threads, 3);
  assert.throws(() => setCpuThreads(0), /setCpuThreads: expected a whole number of threads from 1 to 1024, got 0/);
});

test('prefill logits and decode steps are bit-identical on 1 and 3 threads', async () => {
  const config = MambaConfig.create({ hidden_size: 64, num_hidden_layers: 2, vocab_size: 1000, use_bias: false });
  const model = new MambaForCausalLM(config);
  initMambaWeights(model, 7);
  const ids = [Array.from({ length: 40 }, (_, i) => (i * 37) % 1000)];
  const run = async (threads: number) => {
    setCpuThreads(threads);
    const cache = model.createCache(1);
    const prefill = model.nextLogits(ids, cache);
    const steps = [await prefill.data()];
    prefill.dispose();
    for (const id of [5, 900, 17]) {
      const l = model.nextLogits([[id]], cache);
      steps.push(await l.data());
      l.dispose();
    }
    cache.dispose();
    return steps;
  };
  const one = await run(1);
  const three = await run(3);
  three.forEach((s, i) => assert.deepEqual(s, one[i], `step ${i}`));
  model.dispose();
});

test('a bf16 checkpoint keeps its matmul and embedding weights packed on the CPU', async () => {
  const cpu = getBackend('cpu');
  const before = cpu.memoryBytes();
  const model = await MambaForCausalLM.fromPretrained(fixture('hf', 'mamba-tiny-bf16', 'model'));
  const params = model.namedParameters();
  const packed = params.filter(([, p]) => p.value.dtype === 'bf16').map(([n]) => n);
  assert.ok(packed.includes('backbone.embeddings.weight') && packed.some((n) => n.endsWith('mixer.in_proj.weight')), `packed: ${packed.join(', ')}`);
  assert.ok(params.every(([n, p]) => p.value.dtype === 'f32' || p.packable), 'only packable parameters are bf16');
  const held = cpu.memoryBytes() - before;
  const expected = params.reduce((s, [, p]) => s + storageBytes(p.value.dtype, p.value.size), 0);
  const asF32 = params.reduce((s, [, p]) => s + 4 * p.value.size, 0);
  assert.equal(held, expected, 'memoryBytes counts the packed bytes');
  assert.ok(held < 0.6 * asF32, `${held} bytes held, ${asF32} as float32`);
  model.dispose();
  assert.equal(cpu.memoryBytes(), before);
});
