/**
 * The split-K batch kernels (backend/webgpu/kernels/batch-split-k.ts) against plain loops: the
 * product and its plain / residual epilogues, at batch sizes that are not multiples of the tiles
 * (5 to 256 rows), outputs and K that are not either (K not a multiple of 4, a last slice cut
 * short), f32, bf16 and f16 weights, with and without bias, every tile, the default slice plan and
 * forced slice counts; and the plan itself (mamba-130m's shapes). The norm + in_proj + conv
 * epilogue runs in the fused step's tests (webgpu-mamba-step.test.ts, MAMBA_TS_BATCH_SPLITK).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { getBackend } from '../src/backend/registry.js';
import type { GpuStorage, WebGpuBackend } from '../src/backend/webgpu/index.js';
import { batchSplitKSumKernel, splitKEpilogueGrid, splitKPlan, splitKProductKernel, splitKProductUniforms, splitKProducts, splitKSumUniforms, type SplitProduct } from '../src/backend/webgpu/kernels/batch-split-k.js';
import { tensor, zeros } from '../src/ops/create.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { availableDevices } from './devices.js';
import { weight, type WeightKind } from './gpu-weights.js';
import { assertClose, randomArray } from './helpers.js';

/** Y = (R +) X · Wᵀ (+ bias) in float64. */
function reference(X: Float32Array, W: Float32Array, B: number, N: number, K: number, R: Float32Array | null, bias: Float32Array | null, biasAt: number): Float64Array {
  const Y = new Float64Array(B * N);
  for (let r = 0; r < B; r++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += X[r * K + k]! * W[n * K + k]!;
      Y[r * N + n] = s + (bias ? bias[biasAt + n]! : 0) + (R ? R[r * N + n]! : 0);
    }
  }
  return Y;
}

const buf = (t: Tensor): GPUBuffer => (t.storage as GpuStorage).buffer;

/** Sets switches for the length of `fn`. */
function withEnv<T>(env: Record<string, string>, fn: () => T): T {
  const before = Object.keys(env).map((k) => [k, process.env[k]] as const);
  Object.assign(process.env, env);
  try {
    return fn();
  } finally {
    for (const [k, v] of before) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

interface Case {
  B: number;
  N: number;
  K: number;
  kind: WeightKind;
  bias: boolean;
  product: SplitProduct;
  env: Record<string, string>;
}

async function check(c: Case, residual: boolean): Promise<void> {
  const gpu = getBackend('webgpu') as WebGpuBackend;
  const { B, N, K } = c;
  const plan = withEnv(c.env, () => splitKPlan(c.product, B, N, K));
  const X = randomArray(B * K, 1 + B + K);
  const { w, values } = weight(N, K, c.kind, 2 + N);
  const R = residual ? randomArray(B * N, 3) : null;
  const biasAt = 2; // read from an offset into its buffer
  const bias = c.bias ? randomArray(N + biasAt, 5) : null;
  const tx = tensor(X, [B, K], { device: 'webgpu' });
  const tr = R ? tensor(R, [B, N], { device: 'webgpu' }) : null;
  const tb = bias ? tensor(bias, [bias.length], { device: 'webgpu' }) : zeros([4], { device: 'webgpu' });
  // The partials start as NaN: a slice that wrote nothing, or an output past N or B, shows.
  const part = tensor(new Float32Array(plan.slices * B * N).fill(NaN), [plan.slices * B * N], { device: 'webgpu' });
  const y = zeros([B, N], { device: 'webgpu' });
  gpu.ctx.dispatch(splitKProductKernel(plan.tile, K, plan.sliceK4, c.kind, false), [buf(tx), buf(w), buf(part)], splitKProductUniforms(N, B), plan.grid);
  gpu.ctx.dispatch(batchSplitKSumKernel(residual), [buf(part), buf(tb), buf(y), ...(tr ? [buf(tr)] : [])], splitKSumUniforms(N, B, plan.slices, bias ? { at: biasAt } : null), splitKEpilogueGrid(B, N));
  const name = `${plan.tile.name} S=${plan.slices} ${residual ? 'residual' : 'plain'} B=${B} N=${N} K=${K} ${c.kind}${c.bias ? ' + bias' : ''}`;
  assertClose(name, await y.data(), reference(X, values, B, N, K, R, bias, biasAt), 1e-5);
  for (const v of [tx, tb, part, y, w, ...(tr ? [tr] : [])]) v.dispose();
}

const cases: Case[] = [
  { B: 5, N: 80, K: 200, kind: 'f32', bias: false, product: 'x', env: {} }, // x_proj-like, fewer rows than a tile
  { B: 32, N: 130, K: 100, kind: 'bf16', bias: true, product: 'out', env: { MAMBA_TS_BATCH_SPLITK_SLICES: '3' } }, // last slice cut short
  { B: 64, N: 768, K: 1536, kind: 'f32', bias: true, product: 'out', env: {} }, // mamba-130m's out_proj: 10 slices
  { B: 64, N: 80, K: 1536, kind: 'bf16', bias: false, product: 'x', env: {} }, // mamba-130m's x_proj: 24 slices
  { B: 100, N: 52, K: 70, kind: 'f16', bias: true, product: 'out', env: { MAMBA_TS_BATCH_SPLITK_TILE: 'tile64', MAMBA_TS_BATCH_SPLITK_SLICES: '4' } }, // K % 4 != 0
  { B: 256, N: 40, K: 36, kind: 'f32', bias: true, product: 'x', env: { MAMBA_TS_BATCH_SPLITK_TILE: 'tile32', MAMBA_TS_BATCH_SPLITK_SLICES: '2' } },
  { B: 33, N: 65, K: 6, kind: 'bf16', bias: false, product: 'out', env: { MAMBA_TS_BATCH_SPLITK_SLICES: '5' } }, // gathered bf16; one K step: one slice
  // The prefetching tiles (MAMBA_TS_BATCH_TILE_PREFETCH): slices of several K steps, a short last one.
  { B: 64, N: 768, K: 1536, kind: 'f32', bias: true, product: 'out', env: { MAMBA_TS_BATCH_TILE_PREFETCH: '1' } },
  { B: 100, N: 52, K: 70, kind: 'f16', bias: true, product: 'out', env: { MAMBA_TS_BATCH_TILE_PREFETCH: '1', MAMBA_TS_BATCH_SPLITK_TILE: 'tile64', MAMBA_TS_BATCH_SPLITK_SLICES: '2' } },
  { B: 37, N: 80, K: 600, kind: 'bf16', bias: false, product: 'x', env: { MAMBA_TS_BATCH_TILE_PREFETCH: '1', MAMBA_TS_BATCH_SPLITK_SLICES: '3' } },
];

describe('split-K batch kernels (WebGPU) against plain loops', async () => {
  const hasGpu = (await availableDevices()).includes('webgpu');
  for (const c of cases) {
    for (const residual of [false, true]) {
      test(`${residual ? 'residual' : 'plain'}: B=${c.B} N=${c.N} K=${c.K} ${c.kind}${c.bias ? ' + bias' : ''} ${JSON.stringify(c.env)}`, async (t) => {
        if (!hasGpu) return t.skip('no WebGPU adapter');
        await check(c, residual);
      });
    }
  }
});

describe('splitKPlan and MAMBA_TS_BATCH_SPLITK', () => {
  test('mamba-130m at batch 64: about 512 workgroups, every slice non-empty', () => {
    const shapes: [SplitProduct, number, number, string, number][] = [
      // product, N, K, tile, slices
      ['in', 3072, 768, 'tile32', 3],
      ['x', 80, 1536, 'tile16', 24],
      ['out', 768, 1536, 'tile32', 10],
    ];
    for (const [product, N, K, tile, slices] of shapes) {
      const p = splitKPlan(product, 64, N, K);
      assert.equal(p.tile.name, tile, product);
      assert.equal(p.slices, slices, product);
      assert.equal(p.grid[2], p.slices);
      const K4 = Math.ceil(K / 4);
      assert.ok(p.slices * p.sliceK4 >= K4 && (p.slices - 1) * p.sliceK4 < K4, `${product}: slices cover K, none empty`);
      assert.equal(p.sliceK4 % (p.tile.KT / 4), 0, `${product}: whole K steps`);
    }
  });
  test('a forced slice count is kept where K has that many steps, and capped where not', () => {
    withEnv({ MAMBA_TS_BATCH_SPLITK_SLICES: '4' }, () => {
      assert.equal(splitKPlan('out', 64, 768, 1536).slices, 4);
      assert.equal(splitKPlan('out', 64, 768, 20).slices, 1); // K = 20: one step of 32
    });
  });
  test('the switch: unset is none (the default path), names joined by +, all', () => {
    const before = process.env['MAMBA_TS_BATCH_SPLITK'];
    delete process.env['MAMBA_TS_BATCH_SPLITK'];
    try {
      assert.deepEqual([...splitKProducts()], []);
    } finally {
      if (before !== undefined) process.env['MAMBA_TS_BATCH_SPLITK'] = before;
    }
    withEnv({ MAMBA_TS_BATCH_SPLITK: '' }, () => assert.deepEqual([...splitKProducts()], []));
    withEnv({ MAMBA_TS_BATCH_SPLITK: 'out+x' }, () => assert.deepEqual([...splitKProducts()].sort(), ['out', 'x']));
    withEnv({ MAMBA_TS_BATCH_SPLITK: 'all' }, () => assert.deepEqual([...splitKProducts()].sort(), ['in', 'out', 'x']));
  });
});
