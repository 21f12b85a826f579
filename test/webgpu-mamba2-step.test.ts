/**
 * WebGPU's fused Mamba-2 decode step (Backend.mamba2BlockStep: three launches per layer,
 * kernels/mamba2-step.ts) against the op-by-op step of the same layer: outputs and new states, at
 * batch sizes that take the specialised kernels (<= 4 rows) and the blocked ones (blocks of 8
 * rows, the last one partial; 16 too), several heads per group and a group per head, 1–3 groups
 * (the gated norm's group size a multiple of 4 or not), with and without a dt clamp and biases,
 * hidden sizes that are and are not multiples of 4, state sizes that do and do not divide the
 * workgroup, f32 and bf16 projections; in place and not; bad inputs refused by name. A blocked
 * batch's norm + in_proj through the register-tiled kernel (batch-linear.ts) where the policy
 * picks a tile (33 rows by default; every tile from 5 rows), the gemv where it does not, and the
 * route checked by the kernels launched.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getBackend } from '../src/backend/registry.js';
import type { WebGpuBackend } from '../src/backend/webgpu/index.js';
import { batchInProjTile } from '../src/backend/webgpu/kernels/batch-linear.js';
import type { Mamba2ConfigFields } from '../src/models/mamba2/config.js';
import { Mamba2ForCausalLM } from '../src/models/mamba2/modeling.js';
import { add, mamba2BlockStepFused } from '../src/ops/index.js';
import { tensor } from '../src/ops/create.js';
import { mamba2LayerModel, mamba2StepInputs } from './mamba2-layer-model.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { assertClose, randomArray } from './helpers.js';
import { availableDevices } from './devices.js';
import { launchedKernels } from './gpu-launches.js';

const randn = (shape: number[], seed: number): Tensor => tensor(randomArray(shape.reduce((a, b) => a * b, 1), seed), shape, { device: 'webgpu' });

interface Shape {
  name: string;
  fields: Partial<Mamba2ConfigFields>;
  bf16?: boolean;
  batches: number[];
}

const shapes: Shape[] = [
  // 8 heads in one group, no clamp, no biases.
  { name: 'one group', fields: { hidden_size: 32, head_dim: 8, n_groups: 1, state_size: 16 }, batches: [1, 3, 9] },
  // Hidden size not a multiple of 4 (gathered vec4s); N ∤ 256; 6 heads per group; clamped dt; biases.
  {
    name: 'two groups, dt clamped, biases',
    fields: { hidden_size: 36, head_dim: 6, n_groups: 2, state_size: 12, time_step_limit: [0.05, 0.3], use_bias: true },
    batches: [1, 3, 9],
  },
  // A group per head pair, group size 14 (the gated norm's vec4s straddle groups); conv kernel 3.
  { name: 'three groups of 14 channels', fields: { hidden_size: 21, head_dim: 7, n_groups: 3, state_size: 8, conv_kernel: 3, use_conv_bias: false }, batches: [3, 9] },
  // A group per head; bf16 in_proj and out_proj.
  { name: 'bf16 projections, a group per head', fields: { hidden_size: 32, head_dim: 16, n_groups: 4, state_size: 32, time_step_limit: [0, 0.1] }, bf16: true, batches: [2, 5] },
];

for (const s of shapes) {
  for (const batch of s.batches) {
    test(`WebGPU fused Mamba-2 decode step equals the op-by-op step: ${s.name}, B=${batch}`, async (t) => {
      if (!(await availableDevices()).includes('webgpu')) return t.skip('no WebGPU adapter');
      await checkStep(s, batch);
    });
  }
}

test('WebGPU fused Mamba-2 decode step with blocks of 16 rows equals the op-by-op step', async (t) => {
  if (!(await availableDevices()).includes('webgpu')) return t.skip('no WebGPU adapter');
  process.env['MAMBA_TS_GEMV_ROWS'] = '16';
  try {
    await checkStep(shapes[1]!, 21);
  } finally {
    delete process.env['MAMBA_TS_GEMV_ROWS'];
  }
});

// 33 rows: in_proj (N/K from 4.3 to 12) through the tiled kernel by default; and under
// MAMBA_TS_BATCH_LINEAR=gemv, the gemv.
test('WebGPU fused Mamba-2 decode step with in_proj tiled (33 rows) equals the op-by-op step', async (t) => {
  if (!(await availableDevices()).includes('webgpu')) return t.skip('no WebGPU adapter');
  await checkStep(shapes[0]!, 33);
  await checkStep(shapes[1]!, 33);
  process.env['MAMBA_TS_BATCH_LINEAR'] = 'gemv';
  try {
    await checkStep(shapes[0]!, 33);
  } finally {
    delete process.env['MAMBA_TS_BATCH_LINEAR'];
  }
});

// tile16 from 5 rows on (partial row and output tiles; gathered vec4s; conv kernel 3; bf16). The
// epilogue is per output, the same under every tile; tile32 and tile64 (each ~40 s of lavapipe
// compiling per shape) are covered through Mamba-1's step (webgpu-mamba-step.test.ts).
test('WebGPU fused Mamba-2 decode step with in_proj through tile16 from 5 rows equals the op-by-op step', async (t) => {
  if (!(await availableDevices()).includes('webgpu')) return t.skip('no WebGPU adapter');
  process.env['MAMBA_TS_BATCH_LINEAR'] = 'tile16';
  process.env['MAMBA_TS_BATCH_LINEAR_ROWS'] = '5';
  try {
    for (const s of shapes) for (const batch of [5, 9, 19]) await checkStep(s, batch);
  } finally {
    delete process.env['MAMBA_TS_BATCH_LINEAR'];
    delete process.env['MAMBA_TS_BATCH_LINEAR_ROWS'];
  }
});

// in_proj through a K-group tile (MAMBA_TS_BATCH_IN_TILE, batch-linear.ts KSPLIT_TILES): its
// partial sums added in workgroup memory before the same conv epilogue.
test('WebGPU fused Mamba-2 decode step with in_proj through ksplit16 (MAMBA_TS_BATCH_IN_TILE) equals the op-by-op step', async (t) => {
  if (!(await availableDevices()).includes('webgpu')) return t.skip('no WebGPU adapter');
  process.env['MAMBA_TS_BATCH_IN_TILE'] = 'ksplit16';
  try {
    for (const s of shapes) await checkStep(s, 33, 'batch_mamba2_norm_in_proj_conv_ksplit16_');
    // 136 inputs: 3 K steps of 64, the last partial, so that every K group has a share of K.
    const wide: Shape = { name: 'hidden 136', fields: { hidden_size: 136, head_dim: 8, n_groups: 1, state_size: 16 }, batches: [] };
    await checkStep(wide, 64, 'batch_mamba2_norm_in_proj_conv_ksplit16_');
  } finally {
    delete process.env['MAMBA_TS_BATCH_IN_TILE'];
  }
});

const layerModel = (s: Shape): Promise<Mamba2ForCausalLM> => mamba2LayerModel(s.fields, s.bf16 ?? false, 'webgpu');

/** Checks the fused step against the op-by-op one; with `kernel`, that a kernel whose key starts so ran. */
async function checkStep(s: Shape, batch: number, kernel?: string): Promise<void> {
  const m = await layerModel(s);
  const block = m.backbone.layers[0]!;
  const c = m.config;
  const f = c.fields;
  const { h, state } = mamba2StepInputs(m, batch, 'webgpu');
  const before = { conv: await state.conv.data(), ssm: await state.ssm.data() };
  // Count the fused steps that ran: block.step falls back to the op-by-op step silently.
  const backend = getBackend('webgpu');
  const original = backend.mamba2BlockStep!;
  let ran = 0;
  backend.mamba2BlockStep = (i) => {
    const r = original.call(backend, i);
    if (r) ran++;
    return r;
  };
  let fused: ReturnType<typeof block.step> | null = null;
  let keys: string[];
  try {
    keys = launchedKernels(backend as WebGpuBackend, () => {
      fused = block.step(h, state);
    });
  } finally {
    backend.mamba2BlockStep = original;
  }
  assert.equal(ran, 1, 'the fused step ran');
  if (!fused) throw new Error('no fused step');
  // The route: in_proj through the tiled kernel exactly where the policy says (a blocked batch).
  const tiledIn = batch > 4 && batchInProjTile(batch, c.projectionSize, f.hidden_size) !== null;
  assert.equal(keys.some((k) => k.startsWith('batch_mamba2_norm_in_proj_conv_')), tiledIn, `in_proj tiled at B=${batch}: ${keys.join(', ')}`);
  assert.equal(keys.some((k) => k.startsWith('mamba2_step_norm_in_proj_conv_')), !tiledIn, `in_proj on the gemv at B=${batch}: ${keys.join(', ')}`);
  if (kernel) assert.ok(keys.some((k) => k.startsWith(kernel)), `a ${kernel}* kernel ran (launched: ${keys.join(', ')})`);
  assert.deepEqual(await state.conv.data(), before.conv, 'the input conv state is left as it was');
  assert.deepEqual(await state.ssm.data(), before.ssm, 'the input SSM state is left as it was');
  const m1 = block.mixer.step(block.norm.forward(h), state);
  const plain = { out: add(h, m1.out), state: m1.state };
  const names = ['out', 'conv state', 'ssm state'];
  const f2 = fused as ReturnType<typeof block.step>;
  const got = [f2.out, f2.state.conv, f2.state.ssm];
  const want = [plain.out, plain.state.conv, plain.state.ssm];
  for (let i = 0; i < 3; i++) assertClose(names[i]!, await got[i]!.data(), await want[i]!.data(), 1e-5);

  // In place: the same numbers, written over the given states.
  const inPlace = block.step(h, state, true);
  assert.equal(inPlace.state.conv, state.conv);
  assert.equal(inPlace.state.ssm, state.ssm);
  assertClose('in-place out', await inPlace.out.data(), await plain.out.data(), 1e-5);
  assertClose('in-place conv state', await state.conv.data(), await plain.state.conv.data(), 1e-5);
  assertClose('in-place ssm state', await state.ssm.data(), await plain.state.ssm.data(), 1e-5);
  for (const x of [...got, ...want, m1.out, inPlace.out, h, state.conv, state.ssm]) x.dispose();
  m.dispose();
}

test('the fused Mamba-2 step refuses inputs of the wrong shapes by name', async (t) => {
  if (!(await availableDevices()).includes('webgpu')) return t.skip('no WebGPU adapter');
  const m = await layerModel(shapes[0]!);
  const block = m.backbone.layers[0]!;
  const mx = block.mixer;
  const f = m.config.fields;
  const h = randn([2, f.hidden_size], 1);
  const convWeight = randn([m.config.convDim, f.conv_kernel], 2);
  const inputs = {
    h,
    normWeight: block.norm.weight.value,
    eps: 1e-5,
    inProj: mx.in_proj.weight.value,
    inProjBias: null,
    convWeight,
    convBias: null,
    convState: randn([2, m.config.convDim, f.conv_kernel - 1], 3),
    dtBias: mx.dt_bias.value,
    ALog: mx.A_log.value,
    D: mx.D.value,
    dtLimit: [0, Infinity] as const,
    groups: 1,
    gatedNormWeight: mx.norm.weight.value,
    gatedNormEps: 1e-5,
    outProj: mx.out_proj.weight.value,
    outProjBias: null,
    ssmState: randn([2, f.num_heads, f.head_dim, f.state_size], 4),
  };
  assert.throws(() => mamba2BlockStepFused({ ...inputs, groups: 3 }), /groups must be a positive integer dividing/);
  assert.throws(() => mamba2BlockStepFused({ ...inputs, groups: 2 }), /convWeight has \d+ channels/);
  assert.throws(() => mamba2BlockStepFused({ ...inputs, outProj: mx.in_proj.weight.value }), /outProj/);
  assert.throws(() => mamba2BlockStepFused({ ...inputs, ssmState: randn([3, f.num_heads, f.head_dim, f.state_size], 5) }), /convState|ssmState/);
  assert.throws(() => mamba2BlockStepFused({ ...inputs, dtLimit: [0.5, 0.1] }), /dtLimit/);
  for (const x of [h, convWeight, inputs.convState, inputs.ssmState]) x.dispose();
  m.dispose();
});
