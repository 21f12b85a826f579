/**
 * A one-layer Mamba-2 for the fused decode step tests (test/cpu-mamba2-step.test.ts,
 * test/webgpu-mamba2-step.test.ts): every 1-D parameter random (norm weights, biases, D, A_log,
 * dt_bias), so that each one counts in the comparison; bf16 projections on request.
 */
import type { DeviceName } from '../src/backend/registry.js';
import { Mamba2Config, type Mamba2ConfigFields } from '../src/models/mamba2/config.js';
import { initMamba2Weights } from '../src/models/mamba2/init.js';
import { Mamba2ForCausalLM } from '../src/models/mamba2/modeling.js';
import { halfTensor, tensor } from '../src/ops/create.js';
import { f32ToBf16 } from '../src/tensor/half.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { randomArray } from './helpers.js';

export async function mamba2LayerModel(fields: Partial<Mamba2ConfigFields>, bf16: boolean, device: DeviceName): Promise<Mamba2ForCausalLM> {
  const m = new Mamba2ForCausalLM(Mamba2Config.create({ hidden_size: 32, chunk_size: 4, num_hidden_layers: 1, vocab_size: 32, ...fields }));
  initMamba2Weights(m, 5, device);
  let seed = 100;
  for (const [name, p] of m.namedParameters()) {
    if (p.shape.length === 1) {
      p.set(tensor(randomArray(p.value.size, seed++, name.endsWith('A_log') ? -2 : 0.5, 1), p.shape, { device }), name);
    } else if (bf16 && p.packable) {
      p.set(halfTensor(f32ToBf16((await p.value.data()) as Float32Array), p.shape, 'bf16', { device }), name);
    }
  }
  return m;
}

/** A decode step's inputs for `m`'s layer: h (batch, 1, D) and the conv and SSM states, random (seeds from the batch size). */
export function mamba2StepInputs(m: Mamba2ForCausalLM, batch: number, device: DeviceName): { h: Tensor; state: { conv: Tensor; ssm: Tensor } } {
  const randn = (shape: number[], seed: number): Tensor => tensor(randomArray(shape.reduce((a, b) => a * b, 1), seed), shape, { device });
  const c = m.config;
  const f = c.fields;
  return {
    h: randn([batch, 1, f.hidden_size], 1 + batch),
    state: { conv: randn([batch, c.convDim, f.conv_kernel - 1], 2 + batch), ssm: randn([batch, f.num_heads, f.head_dim, f.state_size], 3 + batch) },
  };
}
