/**
 * The register-tiled batch kernels (backend/webgpu/kernels/batch-linear.ts) against plain loops:
 * every tile shape and epilogue, on shapes that do not fit the tiles (rows and outputs not
 * multiples of the tile, K not a multiple of 4, K smaller than a K step), with f32, bf16 and f16
 * weights, each tile plain and prefetching (prefetchTile); and the backend's routes (matmul, rmsNormLinear) taking them from the row threshold on.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { getBackend } from '../src/backend/registry.js';
import type { GpuStorage, WebGpuBackend } from '../src/backend/webgpu/index.js';
import { BATCH_TILES, prefetchTile, batchLinearGrid, batchLinearKernel, batchLinearTile, batchLinearUniforms, type BatchEpilogue, type BatchTile } from '../src/backend/webgpu/kernels/batch-linear.js';
import { halfTensor, tensor, zeros } from '../src/ops/create.js';
import * as ops from '../src/ops/index.js';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../src/tensor/half.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { availableDevices } from './devices.js';
import { launchedKernels } from './gpu-launches.js';
import { assertClose, randomArray } from './helpers.js';

type WeightKind = 'f32' | 'bf16' | 'f16';

/** A weight on the GPU and the values the kernel sees (rounded to the half type). */
function weight(N: number, K: number, kind: WeightKind, seed: number): { w: Tensor; values: Float32Array } {
  const v = randomArray(N * K, seed);
  if (kind === 'f32') return { w: tensor(v, [N, K], { device: 'webgpu' }), values: v };
  const bits = kind === 'bf16' ? f32ToBf16(v) : f32ToF16(v);
  return { w: halfTensor(bits, [N, K], kind, { device: 'webgpu' }), values: kind === 'bf16' ? bf16ToF32(bits) : f16ToF32(bits) };
}

/** Y = epilogue(X · Wᵀ) in float64. */
function reference(epi: BatchEpilogue, X: Float32Array, W: Float32Array, B: number, N: number, K: number, extra: Float32Array, bias: Float32Array | null, biasAt: number, eps: number): Float64Array {
  const Y = new Float64Array(B * N);
  for (let r = 0; r < B; r++) {
    let inv = 1;
    if (epi === 'norm') {
      let ss = 0;
      for (let k = 0; k < K; k++) ss += X[r * K + k]! ** 2;
      inv = 1 / Math.sqrt(ss / K + eps);
    }
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += X[r * K + k]! * (epi === 'norm' ? extra[k]! : 1) * W[n * K + k]!;
      Y[r * N + n] = s * inv + (bias ? bias[biasAt + n]! : 0) + (epi === 'residual' ? extra[r * N + n]! : 0);
    }
  }
  return Y;
}

const buf = (t: Tensor): GPUBuffer => (t.storage as GpuStorage).buffer;

async function check(t: BatchTile, epi: BatchEpilogue, B: number, N: number, K: number, kind: WeightKind, withBias: boolean): Promise<void> {
  const gpu = getBackend('webgpu') as WebGpuBackend;
  const X = randomArray(B * K, 1 + B + K);
  const { w, values } = weight(N, K, kind, 2 + N);
  const extra = epi === 'residual' ? randomArray(B * N, 3) : randomArray(K, 4, 0.5, 1.5);
  const biasAt = 3; // the bias read from an offset into its buffer (the kernel's `at`)
  const bias = withBias ? randomArray(N + biasAt, 5) : null;
  const eps = 1e-5;
  const tx = tensor(X, [B, K], { device: 'webgpu' });
  const te = tensor(extra, [extra.length], { device: 'webgpu' });
  const tb = bias ? tensor(bias, [bias.length], { device: 'webgpu' }) : zeros([4], { device: 'webgpu' });
  const y = zeros([B, N], { device: 'webgpu' });
  const bufs = [buf(tx), buf(w), buf(tb), buf(y)];
  if (epi !== 'plain') bufs.push(buf(te));
  gpu.ctx.dispatch(batchLinearKernel(t, K, kind, epi), bufs, batchLinearUniforms(N, B, bias ? { at: biasAt } : null, eps), batchLinearGrid(t, B, N));
  assertClose(`${t.name} ${epi} B=${B} N=${N} K=${K} ${kind}`, await y.data(), reference(epi, X, values, B, N, K, extra, bias, biasAt, eps), 1e-5);
  for (const v of [tx, te, tb, y, w]) v.dispose();
}

const shapes: [number, number, number, WeightKind, boolean][] = [
  // B, N, K, weights, bias
  [17, 23, 7, 'f32', true], // K < 16 and not a multiple of 4; B and N past a partial tile
  [5, 80, 48, 'f32', false], // x_proj-like: few outputs; fewer rows than any tile
  [70, 130, 100, 'bf16', true], // bf16 packed; K not a multiple of a K step
  [33, 65, 6, 'bf16', false], // bf16 gathered (K % 4 != 0)
  [20, 40, 36, 'f16', true],
];

describe('register-tiled batch kernels (WebGPU) against plain loops', async () => {
  const hasGpu = (await availableDevices()).includes('webgpu');
  // One shape per (tile, epilogue), rotating, so that every shape meets every epilogue (each
  // pipeline is specialised on K and compiles slowly on a software adapter).
  // Each tile and its prefetching twin (MAMBA_TS_BATCH_TILE_PREFETCH).
  [...BATCH_TILES, ...BATCH_TILES.map(prefetchTile)].forEach((t, ti) => {
    (['plain', 'residual', 'norm'] as const).forEach((epi, ei) => {
      const [B, N, K, kind, withBias] = shapes[(ti * 2 + ei) % shapes.length]!;
      test(`${t.name}, ${epi}: B=${B} N=${N} K=${K} ${kind}${withBias ? ' + bias' : ''}`, async (c) => {
        if (!hasGpu) return c.skip('no WebGPU adapter');
        await check(t, epi, B, N, K, kind, withBias);
      });
    });
  });

  test('matmul and rmsNormLinear equal the reference below and above the tiled kernel\'s row threshold', async (c) => {
    if (!hasGpu) return c.skip('no WebGPU adapter');
    const [K, N] = [16, 52]; // N >= 3 K: auto tiles it from 32 rows
    assert.equal(batchLinearTile(31, N, K, 'auto'), null);
    assert.notEqual(batchLinearTile(32, N, K, 'auto'), null);
    const { w, values } = weight(N, K, 'bf16', 9);
    const nw = randomArray(K, 10, 0.5, 1.5);
    const tnw = tensor(nw, [K], { device: 'webgpu' });
    for (const B of [31, 32, 40]) {
      const X = randomArray(B * K, 11 + B);
      const x = tensor(X, [B, K], { device: 'webgpu' });
      const gpu = getBackend('webgpu') as WebGpuBackend;
      let y: Tensor | null = null;
      let yn: Tensor | null = null;
      const keys = launchedKernels(gpu, () => {
        y = ops.linear(x, w);
        yn = gpu.rmsNormLinear(x, tnw, 1e-6, w);
      });
      if (!y || !yn) throw new Error('rmsNormLinear took no kernel');
      // The route itself: the tiled kernel from 32 rows, the gemv below.
      assert.equal(keys.filter((k) => k.startsWith('batch_linear_')).length, B >= 32 ? 2 : 0, `B=${B}: ${keys.join(', ')}`);
      assertClose(`linear B=${B}`, await (y as Tensor).data(), reference('plain', X, values, B, N, K, nw, null, 0, 0), 1e-5);
      assertClose(`rmsNormLinear B=${B}`, await (yn as Tensor).data(), reference('norm', X, values, B, N, K, nw, null, 0, 1e-6), 1e-5);
      for (const v of [x, y as Tensor, yn as Tensor]) v.dispose();
    }
    w.dispose();
    tnw.dispose();
  });
});

describe('batchLinearTile: which decode-batch products the tiled kernel takes (auto)', () => {
  const name = (B: number, N: number, K: number) => batchLinearTile(B, N, K, 'auto')?.name ?? 'gemv';
  test('wide products from 32 rows, in the largest tile that still gives 128 workgroups', () => {
    assert.equal(name(16, 3072, 768), 'gemv'); // below the row threshold
    assert.equal(name(32, 3072, 768), 'tile16'); // 130M in_proj: 2 x 192 workgroups
    assert.equal(name(64, 3072, 768), 'tile32'); // 2 x 96
    assert.equal(name(128, 8192, 2048), 'tile64'); // 1.4B in_proj: 2 x 128
    assert.equal(name(64, 50280, 768), 'tile64'); // an LM head
  });
  test('narrow or deep products stay on the gemv', () => {
    assert.equal(name(64, 80, 1536), 'gemv'); // x_proj
    assert.equal(name(64, 768, 1536), 'gemv'); // out_proj
    assert.equal(name(128, 768, 768), 'gemv'); // a square projection
    assert.equal(name(128, 768, 2240), 'gemv'); // an MLP's down projection
    assert.equal(name(64, 2240, 768), 'gemv'); // the 130M Transformer's gate/up (N = 2.9 K)
  });
  test('a named tile takes every product from the row threshold on; gemv none', () => {
    assert.equal(batchLinearTile(64, 80, 1536, 'tile16')?.name, 'tile16');
    assert.equal(batchLinearTile(64, 3072, 768, 'gemv'), null);
  });
});
