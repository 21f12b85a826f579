/**
 * The CPU's fused Mamba-2 decode step (Backend.mamba2BlockStep, backend/cpu/mamba2-step.ts)
 * against the op-by-op step of the same layer: equal bits (the same kernels for the products and
 * the conv, float32 rounding where each op stores), for out and both new states; one and three
 * rows, one to three groups, head_dim and state sizes not multiples of 4, a dt clamp, biases, f32
 * and bf16 projections; in place and not; 1 vs 3 threads; and a greedy generation of mamba2-tiny
 * through the fused step equal to HF's (the step counted, so that a silent fallback fails).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { getBackend } from '../src/backend/registry.js';
import type { CpuBackend } from '../src/backend/cpu/index.js';
import type { Mamba2ConfigFields } from '../src/models/mamba2/config.js';
import { Mamba2ForCausalLM } from '../src/models/mamba2/modeling.js';
import { add } from '../src/ops/index.js';
import { mamba2LayerModel, mamba2StepInputs } from './mamba2-layer-model.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { fixture } from './helpers.js';

const cpu = getBackend('cpu') as CpuBackend;

interface Shape {
  name: string;
  fields: Partial<Mamba2ConfigFields>;
  bf16?: boolean;
}

const shapes: Shape[] = [
  { name: 'one group', fields: { hidden_size: 32, head_dim: 8, n_groups: 1, state_size: 16 } },
  { name: 'two groups, P=6 N=13, dt clamped, biases', fields: { hidden_size: 36, head_dim: 6, n_groups: 2, state_size: 13, time_step_limit: [0.05, 0.3], use_bias: true } },
  { name: 'three groups, P=7 N=9, conv kernel 3, no conv bias', fields: { hidden_size: 21, head_dim: 7, n_groups: 3, state_size: 9, conv_kernel: 3, use_conv_bias: false } },
  { name: 'bf16 projections, a group per head, P=5', fields: { hidden_size: 30, head_dim: 5, n_groups: 4, state_size: 11, time_step_limit: [0, 0.1] }, bf16: true },
];

/** Counts the fused steps that returned a result while `fn` runs (block.step falls back silently). */
function countingFused<T>(fn: () => T): { result: T; ran: number } {
  const counter = startCounting();
  try {
    return { result: fn(), ran: counter.ran() };
  } finally {
    counter.stop();
  }
}

function startCounting(): { ran: () => number; stop: () => void } {
  const original = cpu.mamba2BlockStep.bind(cpu);
  let ran = 0;
  cpu.mamba2BlockStep = (i) => {
    const r = original(i);
    if (r) ran++;
    return r;
  };
  // Deleting the own property leaves the prototype's method.
  return { ran: () => ran, stop: () => delete (cpu as { mamba2BlockStep?: unknown }).mamba2BlockStep };
}

const layerModel = (s: Shape): Promise<Mamba2ForCausalLM> => mamba2LayerModel(s.fields, s.bf16 ?? false, 'cpu');

for (const s of shapes) {
  for (const batch of [1, 3]) {
    test(`CPU fused Mamba-2 decode step equals the op-by-op step bit for bit: ${s.name}, B=${batch}`, async () => {
      assert.ok(cpu.kernelInfo().kernels === 'wasm', 'the WebAssembly kernels run');
      const m = await layerModel(s);
      const block = m.backbone.layers[0]!;
      const { h, state } = mamba2StepInputs(m, batch, 'cpu');
      const before = { conv: state.conv.dataSync(), ssm: state.ssm.dataSync() };
      const run = (threads: number) => {
        cpu.memory.runtime!.setThreads(threads);
        const { result: fused, ran } = countingFused(() => block.step(h, state));
        assert.equal(ran, 1, 'the fused step ran');
        assert.deepEqual(state.conv.dataSync(), before.conv, 'the input conv state is left as it was');
        assert.deepEqual(state.ssm.dataSync(), before.ssm, 'the input SSM state is left as it was');
        const m1 = block.mixer.step(block.norm.forward(h), state);
        const plain = { out: add(h, m1.out), state: m1.state };
        const read = (r: { out: Tensor; state: { conv: Tensor; ssm: Tensor } }) => [r.out, r.state.conv, r.state.ssm].map((t) => t.dataSync());
        const res = { fused: read(fused), plain: read(plain) };
        for (const t of [fused.out, fused.state.conv, fused.state.ssm, m1.out, plain.out, plain.state.conv, plain.state.ssm]) t.dispose();
        return res;
      };
      const one = run(1);
      assert.deepEqual(one.fused, one.plain, 'fused vs op-by-op: out, conv state, ssm state');
      const three = run(3);
      assert.deepEqual(three.fused, one.fused, '3 threads vs 1');

      // In place: the same numbers, written over the given states.
      const { result: inPlace, ran } = countingFused(() => block.step(h, state, true));
      assert.equal(ran, 1, 'the fused step ran in place');
      assert.equal(inPlace.state.conv, state.conv);
      assert.equal(inPlace.state.ssm, state.ssm);
      assert.deepEqual([inPlace.out.dataSync(), state.conv.dataSync(), state.ssm.dataSync()], one.plain, 'in place vs op-by-op');
      for (const t of [inPlace.out, h, state.conv, state.ssm]) t.dispose();
      m.dispose();
    });
  }
}

test('mamba2-tiny greedy generation on the CPU goes through the fused step and equals HF', async () => {
  const inputs = JSON.parse(readFileSync(fixture('hf', 'mamba2-tiny', 'inputs.json'), 'utf8')) as { input_ids: number[][]; prompt_len: number; new_tokens: number; generated: number[][] };
  const model = await Mamba2ForCausalLM.fromPretrained(fixture('hf', 'mamba2-tiny', 'model'), { device: 'cpu' });
  const prompts = inputs.input_ids.map((r) => r.slice(0, inputs.prompt_len));
  const counter = startCounting();
  let ids: number[][];
  let ran: number;
  try {
    ids = await model.generate(prompts, { maxNewTokens: inputs.new_tokens, doSample: false, eosTokenId: null });
    ran = counter.ran();
  } finally {
    counter.stop();
  }
  assert.ok(ran >= (inputs.new_tokens - 1) * model.config.numLayers, `the fused step ran per layer per decoded token (${ran} times)`);
  assert.deepEqual(ids, inputs.generated);
  model.dispose();
});
