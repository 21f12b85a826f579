/**
 * The CPU's fused decode step (Backend.mambaBlockStep on the WebAssembly kernels) against the
 * op-by-op step of the same layer: equal bits, since both run the same kernels in the same order,
 * with f32 and bf16 weights, one and several rows, with and without projection biases, channels
 * not a multiple of 4; and 1 vs 3 threads.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getBackend } from '../src/backend/registry.js';
import type { CpuBackend } from '../src/backend/cpu/index.js';
import { MambaConfig } from '../src/models/mamba/config.js';
import { initMambaWeights } from '../src/models/mamba/init.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { add, reshape } from '../src/ops/index.js';
import { halfTensor, tensor } from '../src/ops/create.js';
import { f32ToBf16 } from '../src/tensor/half.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { randomArray } from './helpers.js';

const randn = (shape: number[], o: { seed: number }): Tensor => tensor(randomArray(shape.reduce((a, b) => a * b, 1), o.seed), shape);

const shapes = [
  { hidden_size: 40, state_size: 16, time_step_rank: 5, batch: 3, use_bias: true },
  { hidden_size: 37, state_size: 5, time_step_rank: 3, batch: 1, use_bias: false }, // E = 74: a partial lane group
  { hidden_size: 64, state_size: 16, time_step_rank: 4, batch: 5, use_bias: false }, // more rows than gemv takes
];

const cpu = getBackend('cpu') as CpuBackend;

for (const s of shapes) {
  for (const weights of ['f32', 'bf16'] as const) {
    test(`CPU fused decode step equals the op-by-op step (${weights}): H=${s.hidden_size} N=${s.state_size} B=${s.batch} bias=${s.use_bias}`, async () => {
      assert.ok(cpu.kernelInfo().kernels === 'wasm', 'the WebAssembly kernels run');
      const { batch, ...fields } = s;
      const m = new MambaForCausalLM(MambaConfig.create({ ...fields, num_hidden_layers: 1, vocab_size: 32 }));
      initMambaWeights(m, 5, 'cpu');
      if (weights === 'bf16') {
        for (const [name, p] of m.namedParameters()) {
          if (p.packable) p.set(halfTensor(f32ToBf16((await p.value.data()) as Float32Array), p.shape, 'bf16'), name);
        }
      }
      const block = m.backbone.layers[0]!;
      const E = block.mixer.dims.intermediateSize;
      const h = randn([batch, 1, s.hidden_size], { seed: 1 });
      const state = { conv: randn([batch, E, 3], { seed: 2 }), ssm: randn([batch, E, s.state_size], { seed: 3 }) };
      const run = (threads: number) => {
        cpu.memory.runtime!.setThreads(threads);
        const fused = block.forward(h, state);
        const m1 = block.mixer.forward(block.norm.forward(h), state);
        const plain = { out: add(h, m1.out), state: m1.state! };
        const read = (r: { out: Tensor; state?: { conv: Tensor; ssm: Tensor } }) => [r.out, r.state!.conv, r.state!.ssm].map((t) => t.dataSync());
        const res = { fused: read(fused), plain: read(plain) };
        for (const t of [fused.out, fused.state!.conv, fused.state!.ssm, m1.out, plain.out, plain.state.conv, plain.state.ssm]) t.dispose();
        return res;
      };
      // The fused path takes these inputs (else block.forward would fall back and compare the op-by-op step with itself).
      const mx = block.mixer;
      const direct = cpu.mambaBlockStep({
        h: reshape(h, [batch, s.hidden_size]), normWeight: block.norm.weight.value, eps: block.norm.eps, inProj: mx.in_proj.weight.value,
        inProjBias: mx.in_proj.bias?.value ?? null, convWeight: reshape(mx.conv1d.weight.value, [E, 4]), convBias: mx.conv1d.bias?.value ?? null,
        convState: state.conv, xProj: mx.x_proj.weight.value, dtProj: mx.dt_proj.weight.value, dtProjBias: mx.dt_proj.bias!.value, A: mx.A(),
        D: mx.D.value, outProj: mx.out_proj.weight.value, outProjBias: mx.out_proj.bias?.value ?? null, ssmState: state.ssm,
      });
      assert.ok(direct, 'the CPU backend ran the fused step');
      for (const t of [direct.out, direct.convState, direct.ssmState]) t.dispose();
      const one = run(1);
      assert.deepEqual(one.fused, one.plain, 'fused vs op-by-op: out, conv state, ssm state');
      const three = run(3);
      assert.deepEqual(three.fused, one.fused, '3 threads vs 1');
      for (const t of [h, state.conv, state.ssm]) t.dispose();
      m.dispose();
    });
  }
}
