/**
 * The register-tiled batch kernels (backend/webgpu/kernels/batch-linear.ts) against plain loops:
 * every tile shape and epilogue, on shapes that do not fit the tiles (rows and outputs not
 * multiples of the tile, K not a multiple of 4, K smaller than a K step), with f32, bf16 and f16
 * weights, each tile plain and prefetching (prefetchTile); the K-group tiles (KSPLIT_TILES) also
 * through Mamba's and Mamba-2's step-1 epilogues (norm + in_proj + conv step), at 5 to 256 rows;
 * and the backend's routes (matmul, rmsNormLinear) taking them from the row threshold on.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { getBackend } from '../src/backend/registry.js';
import type { GpuStorage, WebGpuBackend } from '../src/backend/webgpu/index.js';
import {
  BATCH_TILES,
  KSPLIT_TILES,
  prefetchTile,
  batchInProjTile,
  batchLinearGrid,
  batchLinearKernel,
  batchLinearTile,
  batchLinearUniforms,
  batchMamba2NormInProjConvKernel,
  batchNormInProjConvKernel,
  type BatchEpilogue,
  type BatchTile,
} from '../src/backend/webgpu/kernels/batch-linear.js';
import { Uniforms } from '../src/backend/webgpu/context.js';
import { tensor, zeros } from '../src/ops/create.js';
import * as ops from '../src/ops/index.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { availableDevices } from './devices.js';
import { launchedKernels } from './gpu-launches.js';
import { weight, type WeightKind } from './gpu-weights.js';
import { assertClose, randomArray } from './helpers.js';

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

const KSPLIT_ROWS = [5, 32, 33, 64, 100, 256];
const ksplitEpilogues = ['plain', 'residual', 'norm', 'normConv', 'normConvInPlace', 'mamba2NormConv'] as const;
const ksplitShapes: [number, number, WeightKind, boolean][] = [
  // N (2E for Mamba's step 1), K, weights, bias
  [130, 100, 'f32', true], // 25 vec4s of K: a partial second K step of 16
  [66, 70, 'bf16', false], // bf16 gathered (K % 4 != 0), 2 tiles of 32 and 2 outputs
  [100, 36, 'f16', true], // K shorter than one K step
  [98, 200, 'bf16', true], // bf16 packed, a partial fourth K step
  [70, 132, 'f32', false],
];

const silu = (v: number): number => v / (1 + Math.exp(-v));

/** y[r, n] = RMSNorm(X[r]; nw, eps) · W[n] + bias[n] in float64 (the step-1 kernels' product). */
function normProduct(X: Float32Array, W: Float32Array, nw: Float32Array, bias: Float32Array, B: number, N: number, K: number, eps: number): Float64Array {
  const Y = new Float64Array(B * N);
  for (let r = 0; r < B; r++) {
    let ss = 0;
    for (let k = 0; k < K; k++) ss += X[r * K + k]! ** 2;
    const inv = 1 / Math.sqrt(ss / K + eps);
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += X[r * K + k]! * nw[k]! * W[n * K + k]!;
      Y[r * N + n] = s * inv + bias[n]!;
    }
  }
  return Y;
}

/**
 * The conv step of channel c (of C) of row r with new input y, in float64: returns silu(cb[c] +
 * Σ cw[c] · (state, y)) and shifts the state S (B, C, KC - 1) by one in place.
 */
function convReference(S: Float64Array, cw: Float32Array, cb: Float32Array, r: number, c: number, C: number, KC: number, y: number): number {
  const sb = (r * C + c) * (KC - 1);
  let pre = cb[c]!;
  for (let q = 0; q + 1 < KC; q++) pre += cw[c * KC + q]! * S[sb + q]!;
  pre += cw[c * KC + KC - 1]! * y;
  for (let q = 0; q + 2 < KC; q++) S[sb + q] = S[sb + q + 1]!;
  S[sb + KC - 2] = y;
  return silu(pre);
}

/** LP as the step-1 kernels read it: [norm weight (H) | in_proj bias (N) | conv weight (C, KC) | conv bias (C)], padded to whole vec4s. */
function packLp(parts: Float32Array[]): Float32Array {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const lp = new Float32Array(Math.ceil(n / 4) * 4);
  let at = 0;
  for (const p of parts) {
    lp.set(p, at);
    at += p.length;
  }
  return lp;
}

/** Mamba's tiled step 1 (batchNormInProjConvKernel) against float64 loops: XZ, XC and the conv state. */
async function checkNormConv(t: BatchTile, B: number, H: number, E: number, kind: WeightKind, withBias: boolean, inPlace: boolean): Promise<void> {
  const gpu = getBackend('webgpu') as WebGpuBackend;
  const KC = 4;
  const eps = 1e-5;
  const X = randomArray(B * H, 21 + B + H);
  const { w, values } = weight(2 * E, H, kind, 22 + E);
  const nw = randomArray(H, 23, 0.5, 1.5);
  const bias = withBias ? randomArray(2 * E, 24) : new Float32Array(2 * E);
  const cw = randomArray(E * KC, 25);
  const cb = randomArray(E, 26);
  const S0 = randomArray(B * E * (KC - 1), 27 + B);
  const th = tensor(X, [B, H], { device: 'webgpu' });
  const lp = packLp([nw, bias, cw, cb]);
  const tlp = tensor(lp, [lp.length], { device: 'webgpu' });
  const xz = zeros([B, 2 * E], { device: 'webgpu' });
  const s0 = tensor(S0, [S0.length], { device: 'webgpu' });
  const s1 = zeros([S0.length], { device: 'webgpu' });
  const xc = zeros([B, E], { device: 'webgpu' });
  gpu.ctx.dispatch(
    batchNormInProjConvKernel(t, H, E, KC, kind, inPlace),
    [buf(th), buf(w), buf(tlp), buf(xz), buf(s0), ...(inPlace ? [] : [buf(s1)]), buf(xc)],
    new Uniforms(12).u32(2 * E, B).f32(eps).buffer,
    batchLinearGrid(t, B, 2 * E),
  );
  const y = normProduct(X, values, nw, bias, B, 2 * E, H, eps);
  const S = Float64Array.from(S0);
  const XC = new Float64Array(B * E);
  for (let r = 0; r < B; r++) for (let n = 0; n < E; n++) XC[r * E + n] = convReference(S, cw, cb, r, n, E, KC, y[r * 2 * E + n]!);
  const name = `${t.name} normConv${inPlace ? ' in place' : ''} B=${B} H=${H} E=${E} ${kind}`;
  assertClose(`${name}: xz`, await xz.data(), y, 1e-5);
  assertClose(`${name}: xc`, await xc.data(), XC, 1e-5);
  assertClose(`${name}: conv state`, await (inPlace ? s0 : s1).data(), S, 1e-5);
  for (const v of [th, w, tlp, xz, s0, s1, xc]) v.dispose();
}

/**
 * Mamba-2's tiled step 1 (batchMamba2NormInProjConvKernel) against float64 loops: NP = N outputs
 * [z (E) | xBC (CD) | dt (NH)], xBC replaced by its conv step, the conv state updated in place.
 */
async function checkMamba2NormConv(t: BatchTile, B: number, H: number, NP: number, kind: WeightKind, withBias: boolean): Promise<void> {
  const gpu = getBackend('webgpu') as WebGpuBackend;
  const [KC, NH, eps] = [4, 3, 1e-5];
  const E = 16;
  const CD = NP - E - NH;
  const X = randomArray(B * H, 31 + B + H);
  const { w, values } = weight(NP, H, kind, 32 + NP);
  const nw = randomArray(H, 33, 0.5, 1.5);
  const bias = withBias ? randomArray(NP, 34) : new Float32Array(NP);
  const cw = randomArray(CD * KC, 35);
  const cb = randomArray(CD, 36);
  const S0 = randomArray(B * CD * (KC - 1), 37 + B);
  const th = tensor(X, [B, H], { device: 'webgpu' });
  const lp = packLp([nw, bias, cw, cb]);
  const tlp = tensor(lp, [lp.length], { device: 'webgpu' });
  const zxd = zeros([B, NP], { device: 'webgpu' });
  const s0 = tensor(S0, [S0.length], { device: 'webgpu' });
  gpu.ctx.dispatch(
    batchMamba2NormInProjConvKernel(t, H, E, CD, NH, KC, kind),
    [buf(th), buf(w), buf(tlp), buf(zxd), buf(s0)],
    new Uniforms(12).u32(NP, B).f32(eps).buffer,
    batchLinearGrid(t, B, NP),
  );
  const Z = normProduct(X, values, nw, bias, B, NP, H, eps);
  const S = Float64Array.from(S0);
  for (let r = 0; r < B; r++) for (let c = 0; c < CD; c++) Z[r * NP + E + c] = convReference(S, cw, cb, r, c, CD, KC, Z[r * NP + E + c]!);
  const name = `${t.name} Mamba-2 normConv B=${B} H=${H} NP=${NP} ${kind}`;
  assertClose(`${name}: zxd`, await zxd.data(), Z, 1e-5);
  assertClose(`${name}: conv state`, await s0.data(), S, 1e-5);
  for (const v of [th, w, tlp, zxd, s0]) v.dispose();
}

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

  // The K-group tiles and their prefetching twins through every epilogue, each pipeline at every
  // row count of KSPLIT_ROWS (a uniform: one compile): K past or short of whole K steps of 64, N
  // past whole tiles of 32.
  [...KSPLIT_TILES, ...KSPLIT_TILES.map(prefetchTile)].forEach((t, ti) => {
    ksplitEpilogues.forEach((epi, ei) => {
      const [N, K, kind, withBias] = ksplitShapes[(ti + ei) % ksplitShapes.length]!;
      test(`${t.name}, ${epi}: B=${KSPLIT_ROWS.join('/')} N~${N} K=${K} ${kind}${withBias ? ' + bias' : ''}`, async (c) => {
        if (!hasGpu) return c.skip('no WebGPU adapter');
        for (const B of KSPLIT_ROWS) {
          if (epi === 'normConv' || epi === 'normConvInPlace') await checkNormConv(t, B, K, N >> 1, kind, withBias, epi === 'normConvInPlace');
          else if (epi === 'mamba2NormConv') await checkMamba2NormConv(t, B, K, N, kind, withBias);
          else await check(t, epi, B, N, K, kind, withBias);
        }
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
    assert.equal(batchLinearTile(64, 768, 1536, 'ksplit32')?.name, 'ksplit32');
    assert.equal(batchLinearTile(32, 3072, 768, 'ksplit16')?.name, 'ksplit16');
    assert.equal(batchLinearTile(16, 3072, 768, 'ksplit16'), null);
    assert.equal(batchLinearTile(64, 3072, 768, 'gemv'), null);
  });
  test('the K-group tiles are taken only by name', () => {
    for (const [B, N, K] of [[32, 3072, 768], [64, 3072, 768], [256, 8192, 2048], [64, 768, 1536]] as const) {
      assert.ok(!batchLinearTile(B, N, K, 'auto')?.name.startsWith('ksplit'), `auto at ${B} × ${N} × ${K}`);
    }
  });
  test('in_proj takes ksplit16 from the row threshold on; MAMBA_TS_BATCH_IN_TILE names another, auto (or a policy in MAMBA_TS_BATCH_LINEAR) gives batchLinearTile\'s', () => {
    const before = process.env['MAMBA_TS_BATCH_IN_TILE'];
    const beforeLinear = process.env['MAMBA_TS_BATCH_LINEAR'];
    try {
      delete process.env['MAMBA_TS_BATCH_IN_TILE'];
      delete process.env['MAMBA_TS_BATCH_LINEAR'];
      assert.equal(batchInProjTile(64, 3072, 768)?.name, 'ksplit16');
      assert.equal(batchInProjTile(32, 8192, 2048)?.name, 'ksplit16');
      assert.equal(batchInProjTile(31, 3072, 768), null); // below the row threshold: the gemv
      assert.equal(batchInProjTile(64, 1536, 768), null, 'where auto keeps a product on the gemv (N < 3K), in_proj stays there');
      process.env['MAMBA_TS_BATCH_LINEAR'] = 'gemv';
      assert.equal(batchInProjTile(64, 3072, 768), null, 'a policy for every product takes in_proj too');
      delete process.env['MAMBA_TS_BATCH_LINEAR'];
      process.env['MAMBA_TS_BATCH_IN_TILE'] = 'auto';
      assert.equal(batchInProjTile(64, 3072, 768), batchLinearTile(64, 3072, 768));
      assert.equal(batchInProjTile(64, 3072, 768)?.name, 'tile32');
      process.env['MAMBA_TS_BATCH_IN_TILE'] = 'ksplit32';
      assert.equal(batchInProjTile(64, 3072, 768)?.name, 'ksplit32');
      assert.equal(batchInProjTile(256, 80, 1536)?.name, 'ksplit32'); // whatever the shape
      assert.equal(batchInProjTile(31, 3072, 768), null);
      process.env['MAMBA_TS_BATCH_IN_TILE'] = 'tile16';
      assert.equal(batchInProjTile(64, 3072, 768)?.name, 'tile16');
      process.env['MAMBA_TS_BATCH_IN_TILE'] = 'bogus';
      assert.equal(batchInProjTile(64, 3072, 768)?.name, 'ksplit16');
    } finally {
      if (beforeLinear === undefined) delete process.env['MAMBA_TS_BATCH_LINEAR'];
      else process.env['MAMBA_TS_BATCH_LINEAR'] = beforeLinear;
      if (before === undefined) delete process.env['MAMBA_TS_BATCH_IN_TILE'];
      else process.env['MAMBA_TS_BATCH_IN_TILE'] = before;
    }
  });
});
