/**
 * The fused decode step (WebGPU: three or four kernels per layer) against the CPU's op-by-op step, at
 * shapes the fixtures do not reach: channels not a multiple of the kernels' workgroups, state
 * sizes that do not divide 256, several rows, bias on every projection.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { WebGpuBackend } from '../src/backend/webgpu/index.js';
import { MambaConfig } from '../src/models/mamba/config.js';
import { initMambaWeights } from '../src/models/mamba/init.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { availableDevices } from './devices.js';
import { assertClose } from './helpers.js';

const shapes = [
  { hidden_size: 40, state_size: 24, time_step_rank: 5, batch: 3, use_bias: true },
  { hidden_size: 160, state_size: 64, time_step_rank: 10, batch: 2, use_bias: false },
  { hidden_size: 96, state_size: 7, time_step_rank: 3, batch: 4, use_bias: false },
  { hidden_size: 37, state_size: 5, time_step_rank: 3, batch: 2, use_bias: true }, // H, E not multiples of 4: scalar gemvs
  { hidden_size: 44, state_size: 16, time_step_rank: 3, batch: 1, use_bias: true }, // a workgroup of both x and z channels
  { hidden_size: 48, state_size: 128, time_step_rank: 4, batch: 2, use_bias: false }, // x_proj outputs > 256
];

for (const s of shapes) {
  test(`fused decode step equals the op-by-op step: H=${s.hidden_size} N=${s.state_size} B=${s.batch}`, async (t) => {
    if (!(await availableDevices()).includes('webgpu')) {
      t.skip('no WebGPU adapter');
      return;
    }
    const { batch, ...fields } = s;
    const config = MambaConfig.create({ ...fields, num_hidden_layers: 2, vocab_size: 64 });
    const cpu = new MambaForCausalLM(config);
    const gpu = new MambaForCausalLM(config);
    initMambaWeights(cpu, 3, 'cpu');
    initMambaWeights(gpu, 3, 'webgpu');
    const prompt = Array.from({ length: batch }, (_, b) => Array.from({ length: 5 }, (_, i) => (b * 11 + i * 7) % 64));
    const caches = [cpu.createCache(batch), gpu.createCache(batch)] as const;
    cpu.nextLogits(prompt, caches[0]).dispose();
    gpu.nextLogits(prompt, caches[1]).dispose();
    for (let step = 0; step < 4; step++) {
      const ids = prompt.map((_, b) => [(b * 5 + step * 13) % 64]);
      const ref = cpu.nextLogits(ids, caches[0]);
      const got = gpu.nextLogits(ids, caches[1]);
      const [r, g] = [(await ref.data()) as Float32Array, (await got.data()) as Float32Array];
      assertClose(`logits at step ${step}`, g, r, 1e-4);
      ref.dispose();
      got.dispose();
    }
    for (const c of caches) c.dispose();
    cpu.dispose();
    gpu.dispose();
  });
}

test('decode steps reuse the packed small parameters (no packing per step)', async (t) => {
  if (!(await availableDevices()).includes('webgpu')) {
    t.skip('no WebGPU adapter');
    return;
  }
  const { getBackend } = await import('../src/backend/registry.js');
  const backend = getBackend('webgpu') as WebGpuBackend;
  const model = new MambaForCausalLM(MambaConfig.create({ hidden_size: 32, state_size: 8, num_hidden_layers: 2, vocab_size: 64 }));
  initMambaWeights(model, 5, 'webgpu');
  const cache = model.createCache(1);
  model.nextLogits([[1, 2, 3]], cache).dispose();
  model.nextLogits([[4]], cache).dispose();
  const before = backend.packsMade;
  for (let i = 0; i < 5; i++) model.nextLogits([[i]], cache).dispose();
  assert.equal(backend.packsMade, before);
  cache.dispose();
  model.dispose();
});
