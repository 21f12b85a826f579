/**
 * A training step's gradients over many tokens on WebGPU, where the weight gradients Xᵀ·dY run as
 * the tiled matmul with K split into slices (K = the batch's tokens; kernels/matmul.ts: splitK),
 * against the CPU's: the synthetic-task model (2 layers, d 16, vocabulary 16) on 2 × 700 tokens.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../src/autograd/backward.js';
import { getBackend } from '../src/backend/registry.js';
import type { WebGpuBackend } from '../src/backend/webgpu/index.js';
import { MambaConfig } from '../src/models/mamba/config.js';
import { initMambaWeights } from '../src/models/mamba/init.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { availableDevices } from './devices.js';
import { launchedKernels } from './gpu-launches.js';
import { assertClose } from './helpers.js';

test('WebGPU gradients over 1,400 tokens (weight gradients with K split) equal the CPU\'s', async (t) => {
  if (!(await availableDevices()).includes('webgpu')) return t.skip('no WebGPU adapter');
  const ids = Array.from({ length: 2 }, (_, b) => Array.from({ length: 700 }, (_, i) => (i * 7 + b * 3 + ((i * i) % 5)) % 16));
  const grads = new Map<string, Float32Array>();
  for (const device of ['cpu', 'webgpu'] as const) {
    const model = new MambaForCausalLM(MambaConfig.create({ hidden_size: 16, num_hidden_layers: 2, state_size: 4, vocab_size: 16, use_bias: false }));
    initMambaWeights(model, 11, device);
    model.requiresGrad_(true);
    const out = await model.forward(ids, { labels: ids });
    const backward = () => out.loss!.backward();
    if (device === 'webgpu') {
      const keys = launchedKernels(getBackend('webgpu') as WebGpuBackend, backward);
      assert.ok(keys.includes('matmul_split_k_sum'), `backward launched no split matmul: ${[...new Set(keys)].join(', ')}`);
    } else {
      backward();
    }
    for (const [name, p] of model.namedParameters()) {
      assert.ok(p.grad, `${name} on ${device} got no gradient`);
      const g = (await p.grad.data()) as Float32Array;
      if (device === 'cpu') grads.set(name, g);
      else assertClose(`grad ${name}`, g, grads.get(name)!, 1e-4);
    }
    out.loss!.dispose();
    out.logits.dispose();
    model.dispose();
  }
});
