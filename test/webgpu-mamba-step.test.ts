/**
 * WebGPU's fused decode step (Backend.mambaBlockStep: three launches per layer, gemv4.ts and
 * mamba-step.ts) against the op-by-op step of the same layer, at batch sizes that take the
 * specialised kernels (<= 4 rows) and the blocked ones (blocks of 8 rows, the last one partial; 4 and 16 too),
 * with f32 and bf16 weights, hidden sizes that are and are not multiples of 4, and state sizes
 * that do and do not divide the workgroup; and the blocked batch's other state-update layout
 * (the default v2 and MAMBA_TS_STEP_SSM=states), split-K products (MAMBA_TS_BATCH_SPLITK) and
 * K-group tiles (MAMBA_TS_BATCH_IN_TILE, MAMBA_TS_BATCH_LINEAR=ksplit32|ksplit16).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getBackend } from '../src/backend/registry.js';
import type { WebGpuBackend } from '../src/backend/webgpu/index.js';
import { MambaConfig } from '../src/models/mamba/config.js';
import { initMambaWeights } from '../src/models/mamba/init.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { add, reshape } from '../src/ops/index.js';
import { halfTensor, tensor } from '../src/ops/create.js';
import { f32ToBf16 } from '../src/tensor/half.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { assertClose, randomArray } from './helpers.js';
import { availableDevices } from './devices.js';
import { launchedKernels } from './gpu-launches.js';
import { batchInProjTile } from '../src/backend/webgpu/kernels/batch-linear.js';
import { splitKProducts } from '../src/backend/webgpu/kernels/batch-split-k.js';

const randn = (shape: number[], seed: number): Tensor => tensor(randomArray(shape.reduce((a, b) => a * b, 1), seed), shape, { device: 'webgpu' });

const shapes = [
  { hidden_size: 40, state_size: 16, time_step_rank: 5, use_bias: true, weights: 'f32', batches: [1, 3, 4, 5, 9, 14] },
  { hidden_size: 37, state_size: 5, time_step_rank: 3, use_bias: false, weights: 'f32', batches: [2, 7, 19] }, // gathered vec4s; N ∤ 256
  { hidden_size: 64, state_size: 16, time_step_rank: 4, use_bias: false, weights: 'bf16', batches: [1, 6, 33] }, // 33 rows: in_proj through the tiled kernel
  { hidden_size: 256, state_size: 16, time_step_rank: 16, use_bias: false, weights: 'f32', batches: [3, 6] }, // 32 slices of x_proj partial sums (<= 4 rows)
] as const;

type Shape = (typeof shapes)[number];

for (const s of shapes) {
  for (const batch of s.batches) {
    test(`WebGPU fused decode step equals the op-by-op step (${s.weights}): H=${s.hidden_size} N=${s.state_size} B=${batch}`, async (t) => {
      if (!(await availableDevices()).includes('webgpu')) return t.skip('no WebGPU adapter');
      await checkStep(s, batch);
    });
  }
}

// The other block sizes (MAMBA_TS_GEMV_ROWS), each with a partial last block.
for (const rows of ['4', '16']) {
  test(`WebGPU fused decode step with blocks of ${rows} rows equals the op-by-op step`, async (t) => {
    if (!(await availableDevices()).includes('webgpu')) return t.skip('no WebGPU adapter');
    process.env['MAMBA_TS_GEMV_ROWS'] = rows;
    try {
      for (const batch of [7, 21]) await checkStep(shapes[0], batch);
      await checkStep(shapes[2], 18);
    } finally {
      delete process.env['MAMBA_TS_GEMV_ROWS'];
    }
  });
}

// The blocked state update's layouts: v2 (the default: 4 threads per (row, channel); partial
// blocks of its 8 rows and of its 8 channels, vec4 and scalar states, bf16 dt_proj) and the thread
// per (channel, state) of MAMBA_TS_STEP_SSM=states.
test('WebGPU fused decode step with the v2 state update (the default) equals the op-by-op step', async (t) => {
  if (!(await availableDevices()).includes('webgpu')) return t.skip('no WebGPU adapter');
  const before = process.env['MAMBA_TS_STEP_SSM'];
  delete process.env['MAMBA_TS_STEP_SSM']; // the default, whatever the environment says
  try {
    for (const s of shapes) {
      for (const batch of [5, 7, 21, 33]) await checkStep(s, batch, 'step_dt_ssm_v2_');
    }
  } finally {
    if (before !== undefined) process.env['MAMBA_TS_STEP_SSM'] = before;
  }
});
test('WebGPU fused decode step with the thread-per-state update (MAMBA_TS_STEP_SSM=states) equals the op-by-op step', async (t) => {
  if (!(await availableDevices()).includes('webgpu')) return t.skip('no WebGPU adapter');
  process.env['MAMBA_TS_STEP_SSM'] = 'states';
  try {
    for (const s of shapes) {
      for (const batch of [5, 21]) await checkStep(s, batch, 'step_dt_ssm_blocked');
    }
  } finally {
    delete process.env['MAMBA_TS_STEP_SSM'];
  }
});

// Every product of the step through each tile (MAMBA_TS_BATCH_LINEAR names one; auto leaves
// x_proj and out_proj on the gemv), from 5 rows on.
for (const tile of ['tile16', 'tile32', 'tile64']) {
  test(`WebGPU fused decode step with every projection through ${tile} equals the op-by-op step`, async (t) => {
    if (!(await availableDevices()).includes('webgpu')) return t.skip('no WebGPU adapter');
    process.env['MAMBA_TS_BATCH_LINEAR'] = tile;
    process.env['MAMBA_TS_BATCH_LINEAR_ROWS'] = '5';
    try {
      await checkStep(shapes[1], 19);
      await checkStep(shapes[2], 18);
    } finally {
      delete process.env['MAMBA_TS_BATCH_LINEAR'];
      delete process.env['MAMBA_TS_BATCH_LINEAR_ROWS'];
    }
  });
}

// K-group tiles (batch-linear.ts KSPLIT_TILES): in_proj alone through one (MAMBA_TS_BATCH_IN_TILE;
// x_proj and out_proj by the default policy, the gemv), from 32 rows and, with the row threshold
// moved, from 5; then every product through one (MAMBA_TS_BATCH_LINEAR).
for (const tile of ['ksplit32', 'ksplit16']) {
  test(`WebGPU fused decode step with in_proj through ${tile} (MAMBA_TS_BATCH_IN_TILE) equals the op-by-op step`, async (t) => {
    if (!(await availableDevices()).includes('webgpu')) return t.skip('no WebGPU adapter');
    process.env['MAMBA_TS_BATCH_IN_TILE'] = tile;
    const kernel = `batch_norm_in_proj_conv_${tile}_`;
    try {
      for (const batch of [33, 64, 256]) await checkStep(shapes[3], batch, kernel); // H = 256: 16 K steps of 64
      await checkStep(shapes[2], 40, kernel); // bf16
      await checkStep(shapes[1], 100, kernel); // H = 37: gathered vec4s, a partial K step
      process.env['MAMBA_TS_BATCH_LINEAR_ROWS'] = '5';
      await checkStep(shapes[0], 9, kernel);
    } finally {
      delete process.env['MAMBA_TS_BATCH_IN_TILE'];
      delete process.env['MAMBA_TS_BATCH_LINEAR_ROWS'];
    }
  });
  test(`WebGPU fused decode step with every projection through ${tile} (MAMBA_TS_BATCH_LINEAR) equals the op-by-op step`, async (t) => {
    if (!(await availableDevices()).includes('webgpu')) return t.skip('no WebGPU adapter');
    process.env['MAMBA_TS_BATCH_LINEAR'] = tile;
    process.env['MAMBA_TS_BATCH_LINEAR_ROWS'] = '5';
    const kernels = [`batch_norm_in_proj_conv_${tile}_`, `batch_linear_plain_${tile}_`, `batch_linear_residual_${tile}_`];
    try {
      await checkStep(shapes[1], 19, kernels);
      await checkStep(shapes[3], 64, kernels);
    } finally {
      delete process.env['MAMBA_TS_BATCH_LINEAR'];
      delete process.env['MAMBA_TS_BATCH_LINEAR_ROWS'];
    }
  });
}

// Mamba's step products split over K (MAMBA_TS_BATCH_SPLITK, batch-split-k.ts), each alone and all
// three: at the default slice plan (H = 256: 4 to 8 slices) and at forced slice counts where K is
// short (H = 37, 40, 64), bf16 weights, with and without biases, 5 to 256 rows.
const splitKernels: Record<string, string[]> = {
  in: ['batch_split_k_norm_conv_'],
  x: ['batch_split_k_sum_plain'],
  out: ['batch_split_k_sum_residual'],
  all: ['batch_split_k_norm_conv_', 'batch_split_k_sum_plain', 'batch_split_k_sum_residual'],
};
for (const [which, kernels] of Object.entries(splitKernels)) {
  test(`WebGPU fused decode step with ${which} split over K (MAMBA_TS_BATCH_SPLITK=${which}) equals the op-by-op step`, async (t) => {
    if (!(await availableDevices()).includes('webgpu')) return t.skip('no WebGPU adapter');
    process.env['MAMBA_TS_BATCH_SPLITK'] = which;
    try {
      for (const batch of [5, 64]) await checkStep(shapes[3], batch, kernels);
      await checkStep(shapes[2], 33, kernels);
      process.env['MAMBA_TS_BATCH_SPLITK_SLICES'] = '2';
      await checkStep(shapes[0], 19, kernels);
      if (which === 'all') {
        await checkStep(shapes[1], 100, kernels);
        process.env['MAMBA_TS_BATCH_SPLITK_SLICES'] = '3';
        await checkStep(shapes[0], 256, kernels);
      }
    } finally {
      delete process.env['MAMBA_TS_BATCH_SPLITK'];
      delete process.env['MAMBA_TS_BATCH_SPLITK_SLICES'];
    }
  });
}

// The prefetching tiles (MAMBA_TS_BATCH_TILE_PREFETCH=1): in_proj's default tile (ksplit16) and
// its auto tile; every product through tile32; and the split-K products.
const prefetchRoutes: [string, Record<string, string>, () => Promise<void>][] = [
  ['default', {}, async () => {
    await checkStep(shapes[3], 64, 'batch_norm_in_proj_conv_ksplit16p_');
    await checkStep(shapes[2], 33, 'batch_norm_in_proj_conv_ksplit16p_');
  }],
  ['auto', { MAMBA_TS_BATCH_IN_TILE: 'auto' }, async () => {
    await checkStep(shapes[3], 64, 'batch_norm_in_proj_conv_tile16p_');
    await checkStep(shapes[2], 33, 'batch_norm_in_proj_conv_tile16p_');
  }],
  ['tile32', { MAMBA_TS_BATCH_LINEAR: 'tile32', MAMBA_TS_BATCH_LINEAR_ROWS: '5' }, async () => {
    const kernels = ['batch_norm_in_proj_conv_tile32p_', 'batch_linear_plain_tile32p_', 'batch_linear_residual_tile32p_'];
    await checkStep(shapes[1], 19, kernels);
    await checkStep(shapes[2], 18, kernels);
  }],
  ['split K', { MAMBA_TS_BATCH_SPLITK: 'all' }, async () => {
    const kernels = ['batch_split_k_norm_tile32p_', 'batch_split_k_tile16p_', 'batch_split_k_tile32p_'];
    await checkStep(shapes[3], 64, kernels);
    process.env['MAMBA_TS_BATCH_SPLITK_SLICES'] = '2';
    await checkStep(shapes[0], 19, kernels);
  }],
];
for (const [route, env, run] of prefetchRoutes) {
  test(`WebGPU fused decode step with prefetching tiles (${route}) equals the op-by-op step`, async (t) => {
    if (!(await availableDevices()).includes('webgpu')) return t.skip('no WebGPU adapter');
    Object.assign(process.env, env, { MAMBA_TS_BATCH_TILE_PREFETCH: '1' });
    try {
      await run();
    } finally {
      for (const k of [...Object.keys(env), 'MAMBA_TS_BATCH_TILE_PREFETCH', 'MAMBA_TS_BATCH_SPLITK_SLICES']) delete process.env[k];
    }
  });
}

/** Checks the fused step against the op-by-op one; with `kernel`, that kernels whose keys start so ran. */
async function checkStep(s: Shape, batch: number, kernel?: string | string[]): Promise<void> {
  const { batches: _b, weights, ...fields } = s;
  const m = new MambaForCausalLM(MambaConfig.create({ ...fields, num_hidden_layers: 1, vocab_size: 32 }));
  initMambaWeights(m, 5, 'webgpu');
  if (weights === 'bf16') {
    for (const [name, p] of m.namedParameters()) {
      if (p.packable) p.set(halfTensor(f32ToBf16((await p.value.data()) as Float32Array), p.shape, 'bf16', { device: 'webgpu' }), name);
    }
  }
  const block = m.backbone.layers[0]!;
  const E = block.mixer.dims.intermediateSize;
  const h = randn([batch, 1, s.hidden_size], 1 + batch);
  const state = { conv: randn([batch, E, 3], 2 + batch), ssm: randn([batch, E, s.state_size], 3 + batch) };
  // Count the fused steps that ran: block.forward falls back to the op-by-op step silently.
  const backend = getBackend('webgpu');
  const original = backend.mambaBlockStep!;
  let ran = 0;
  backend.mambaBlockStep = (i) => {
    const r = original.call(backend, i);
    if (r) ran++;
    return r;
  };
  let fused: ReturnType<typeof block.forward> | null = null;
  let keys: string[];
  try {
    keys = launchedKernels(backend as WebGpuBackend, () => {
      fused = block.forward(h, state);
    });
  } finally {
    backend.mambaBlockStep = original;
  }
  assert.equal(ran, 1, 'the fused step ran');
  // The route: in_proj through the tiled kernel exactly where the policy says (a blocked batch).
  const tiledIn = batch > 4 && batchInProjTile(batch, 2 * E, s.hidden_size) !== null && !splitKProducts().has('in');
  assert.equal(keys.some((k) => k.startsWith('batch_norm_in_proj_conv_')), tiledIn, `in_proj tiled at B=${batch}: ${keys.join(', ')}`);
  if (!fused) throw new Error('no fused step');
  for (const want of typeof kernel === 'string' ? [kernel] : (kernel ?? [])) {
    assert.ok(keys.some((k) => k.startsWith(want)), `a ${want}* kernel ran (launched: ${keys.join(', ')})`);
  }
  const m1 = block.mixer.forward(block.norm.forward(h), state);
  const plain = { out: add(h, m1.out), state: m1.state! };
  const names = ['out', 'conv state', 'ssm state'];
  const f = fused as ReturnType<typeof block.forward>;
  const got = [f.out, f.state!.conv, f.state!.ssm];
  const want = [plain.out, plain.state.conv, plain.state.ssm];
  for (let i = 0; i < 3; i++) assertClose(names[i]!, await got[i]!.data(), await want[i]!.data(), 1e-5);
  for (const x of [...got, ...want, m1.out, h, state.conv, state.ssm]) x.dispose();
  m.dispose();
}
