/**
 * Jamba's Mamba layers through the fused decode step (mambaBlockStep with the mixer's inner norms
 * on Δ, B and C; models/jamba/mamba-step.ts) against the op-by-op step of the same layer: on
 * WebGPU at batch 1 and 3 (the partial-sums layout) and 9 (blocked, all three state-update layouts),
 * new states and in place; on the CPU's WebAssembly kernels, equal bits. The inner norm weights
 * are random, so that a weight applied to the wrong segment shows.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getBackend, type DeviceName } from '../src/backend/registry.js';
import type { CpuBackend } from '../src/backend/cpu/index.js';
import { JambaConfig } from '../src/models/jamba/config.js';
import { initJambaWeights } from '../src/models/jamba/init.js';
import { JambaForCausalLM, type JambaDecoderLayer } from '../src/models/jamba/modeling.js';
import { fusedMambaMix } from '../src/models/jamba/mamba-step.js';
import { add, mambaBlockStepFused, reshape } from '../src/ops/index.js';
import { ArgumentError } from '../src/errors.js';
import { tensor } from '../src/ops/create.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { assertClose, randomArray } from './helpers.js';
import { availableDevices } from './devices.js';
import { launchedKernels } from './gpu-launches.js';
import type { WebGpuBackend } from '../src/backend/webgpu/index.js';

const shapes = [
  { hidden_size: 40, mamba_d_state: 16, mamba_dt_rank: 5, mamba_proj_bias: true },
  { hidden_size: 37, mamba_d_state: 5, mamba_dt_rank: 3, mamba_proj_bias: false }, // N ∤ 256, H not a multiple of 4
] as const;
type Shape = (typeof shapes)[number];

/** A one-layer Jamba (its layer 0 is a Mamba layer) with random inner norm weights and a non-default eps. */
function mambaLayer(s: Shape, device: DeviceName): { model: JambaForCausalLM; layer: JambaDecoderLayer } {
  const model = new JambaForCausalLM(
    JambaConfig.create({ ...s, vocab_size: 32, intermediate_size: 24, num_hidden_layers: 1, num_experts: 1, num_experts_per_tok: 1, attn_layer_period: 2, attn_layer_offset: 1, rms_norm_eps: 1e-3, num_attention_heads: 1, num_key_value_heads: 1 }),
  );
  initJambaWeights(model, 5, device);
  const layer = model.model.layers[0]!;
  const n = layer.mamba!.innerNorms!;
  [n.dt, n.b, n.c].forEach((norm, k) => norm.weight.set(randn([norm.dim], 40 + k, device, 0.5, 1.5)));
  return { model, layer };
}

const randn = (shape: number[], seed: number, device: DeviceName, lo = -1, hi = 1): Tensor =>
  tensor(randomArray(shape.reduce((a, b) => a * b, 1), seed, lo, hi), shape, { device });

/** Fused (new states, and in place over copies of the state) and op-by-op results: out, conv state, ssm state. */
async function compare(s: Shape, batch: number, device: DeviceName): Promise<{ fused: Float32Array[]; inPlace: Float32Array[]; plain: Float32Array[]; kernels: string[] }> {
  const { model, layer } = mambaLayer(s, device);
  const mixer = layer.mamba!;
  const E = mixer.dims.intermediateSize;
  const K = mixer.dims.convKernel;
  const h = randn([batch, 1, s.hidden_size], 1 + batch, device);
  const state = { conv: randn([batch, E, K - 1], 2 + batch, device), ssm: randn([batch, E, s.mamba_d_state], 3 + batch, device) };
  const read = async (ts: Tensor[]) => Promise.all(ts.map(async (t) => (await t.data()) as Float32Array));

  // On WebGPU, the kernels the two fused steps launched (the routes give the same numbers).
  const kernels: string[] = [];
  const launching = <R>(f: () => R): R => {
    if (device !== 'webgpu') return f();
    let r: R | undefined;
    kernels.push(...launchedKernels(getBackend('webgpu') as WebGpuBackend, () => (r = f())));
    return r!;
  };
  const fused = launching(() => fusedMambaMix(layer.input_layernorm, mixer, h, state, false));
  assert.ok(fused, `${device} ran the fused step`);
  const copy = { conv: randn([batch, E, K - 1], 2 + batch, device), ssm: randn([batch, E, s.mamba_d_state], 3 + batch, device) };
  const inPlace = launching(() => fusedMambaMix(layer.input_layernorm, mixer, h, copy, true));
  assert.ok(inPlace, `${device} ran the fused step in place`);
  assert.ok(inPlace.state === copy, 'in place returns the given state');
  const m1 = mixer.step(layer.input_layernorm.forward(h), state);
  const plainOut = add(h, m1.out);
  const res = {
    fused: await read([fused.out, fused.state.conv, fused.state.ssm]),
    inPlace: await read([inPlace.out, copy.conv, copy.ssm]),
    plain: await read([plainOut, m1.state.conv, m1.state.ssm]),
    kernels,
  };
  // The fused step with new states left its inputs as they were.
  assert.deepEqual(await read([state.conv, state.ssm]), await read([randn([batch, E, K - 1], 2 + batch, device), randn([batch, E, s.mamba_d_state], 3 + batch, device)]));
  for (const t of [fused.out, fused.state.conv, fused.state.ssm, inPlace.out, copy.conv, copy.ssm, m1.out, m1.state.conv, m1.state.ssm, plainOut, h, state.conv, state.ssm]) t.dispose();
  model.dispose();
  return res;
}

const names = ['out', 'conv state', 'ssm state'];

for (const s of shapes) {
  for (const batch of [1, 3, 9, 21]) {
    test(`webgpu: a Jamba Mamba layer's fused step (inner norms) equals the op-by-op step: H=${s.hidden_size} N=${s.mamba_d_state} B=${batch}`, async (t) => {
      if (!(await availableDevices()).includes('webgpu')) return t.skip('no WebGPU adapter');
      const r = await compare(s, batch, 'webgpu');
      for (let i = 0; i < 3; i++) {
        assertClose(names[i]!, r.fused[i]!, r.plain[i]!, 1e-5);
        assert.deepEqual(r.inPlace[i], r.fused[i], `${names[i]}: in place vs new states`);
      }
    });
  }
}

// The blocked fused step's other kernels, each under its switches: equal to the op-by-op step,
// and in place equal to new states.
const variants: { what: string; env: Record<string, string>; batches: number[]; kernel?: string }[] = [
  { what: 'thread-per-row state update (MAMBA_TS_STEP_SSM=rows)', env: { MAMBA_TS_STEP_SSM: 'rows' }, batches: [9] },
  { what: 'thread-per-state update (MAMBA_TS_STEP_SSM=states)', env: { MAMBA_TS_STEP_SSM: 'states' }, batches: [5, 9, 21] },
  { what: 'every projection through the tiled kernel (tile16 from 5 rows)', env: { MAMBA_TS_BATCH_LINEAR: 'tile16', MAMBA_TS_BATCH_LINEAR_ROWS: '5' }, batches: [9] },
  // From 32 rows in_proj takes the K-group tile by default (batch-linear.ts DEFAULT_IN_PROJ_TILE);
  // from 5 here, so that a small batch runs it too.
  { what: 'in_proj through the default K-group tile (from 5 rows)', env: { MAMBA_TS_BATCH_LINEAR_ROWS: '5' }, batches: [9, 33], kernel: 'batch_norm_in_proj_conv_ksplit16_' },
];
for (const v of variants) {
  test(`webgpu: the blocked fused step with inner norms, ${v.what}, equals the op-by-op step`, async (t) => {
    if (!(await availableDevices()).includes('webgpu')) return t.skip('no WebGPU adapter');
    Object.assign(process.env, v.env);
    try {
      for (const s of shapes) {
        for (const batch of v.batches) {
          const r = await compare(s, batch, 'webgpu');
          for (let i = 0; i < 3; i++) {
            assertClose(names[i]!, r.fused[i]!, r.plain[i]!, 1e-5);
            assert.deepEqual(r.inPlace[i], r.fused[i], `${names[i]}: in place vs new states`);
          }
          if (v.kernel) {
            const ran = r.kernels.filter((k) => k.startsWith(v.kernel!)).length;
            assert.equal(ran, 2, `${v.kernel}* ran in both fused steps (launched: ${r.kernels.join(', ')})`);
          }
        }
      }
    } finally {
      for (const k of Object.keys(v.env)) delete process.env[k];
    }
  });
}

test('cpu: a Jamba Mamba layer\'s fused step (inner norms) equals the op-by-op step bit for bit', async () => {
  assert.ok((getBackend('cpu') as CpuBackend).kernelInfo().kernels === 'wasm', 'the WebAssembly kernels run');
  for (const s of shapes) {
    for (const batch of [1, 3]) {
      const r = await compare(s, batch, 'cpu');
      assert.deepEqual(r.fused, r.plain, 'fused vs op-by-op: out, conv state, ssm state');
      assert.deepEqual(r.inPlace, r.fused, 'in place vs new states');
    }
  }
});

test('mambaBlockStepFused refuses inner norm weights of the wrong size and inPlace with output buffers, naming them', () => {
  const { model, layer } = mambaLayer(shapes[0], 'cpu');
  const mixer = layer.mamba!;
  const n = mixer.innerNorms!;
  const E = mixer.dims.intermediateSize;
  const N = mixer.dims.stateSize;
  const t = {
    h: randn([1, 40], 1, 'cpu'), conv: randn([1, E, 3], 2, 'cpu'), ssm: randn([1, E, N], 3, 'cpu'),
    conv2: randn([1, E, 3], 4, 'cpu'), ssm2: randn([1, E, N], 5, 'cpu'), convWeight: reshape(mixer.conv1d.weight.value, [E, 4]),
  };
  const inputs = {
    h: t.h, normWeight: layer.input_layernorm.weight.value, eps: 1e-3, inProj: mixer.in_proj.weight.value, inProjBias: mixer.in_proj.bias?.value ?? null,
    convWeight: t.convWeight, convBias: mixer.conv1d.bias?.value ?? null, convState: t.conv, xProj: mixer.x_proj.weight.value,
    dtProj: mixer.dt_proj.weight.value, dtProjBias: mixer.dt_proj.bias!.value, A: mixer.A(), D: mixer.D.value, outProj: mixer.out_proj.weight.value,
    outProjBias: mixer.out_proj.bias?.value ?? null, ssmState: t.ssm,
  };
  const norms = { dt: n.dt.weight.value, b: n.b.weight.value, c: n.c.weight.value, eps: 1e-3 };
  assert.throws(() => mambaBlockStepFused({ ...inputs, innerNorms: { ...norms, b: n.dt.weight.value } }), (e: Error) => e instanceof ArgumentError && /innerNorms\.b/.test(e.message));
  assert.throws(() => mambaBlockStepFused({ ...inputs, innerNorms: { ...norms, eps: Number.NaN } }), (e: Error) => e instanceof ArgumentError && /innerNorms\.eps/.test(e.message));
  assert.throws(() => mambaBlockStepFused({ ...inputs, inPlace: true, convStateOut: t.conv2, ssmStateOut: t.ssm2 }), (e: Error) => e instanceof ArgumentError && /inPlace/.test(e.message));
  for (const x of Object.values(t)) x.dispose();
  model.dispose();
});
