/**
 * WebGPU's backward kernels (causal conv, embedding, silu's one-pass gradient) against the CPU
 * backend's, called directly on the backends with the same inputs.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConvOptions } from '../src/backend/backend.js';
import { getBackend, type DeviceName } from '../src/backend/registry.js';
import * as ops from '../src/ops/index.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { availableDevices } from './devices.js';
import { assertClose, randomArray } from './helpers.js';

const hasGpu = (await availableDevices()).includes('webgpu');

interface ConvConfig { B: number; L: number; D: number; K: number; bias: boolean; state: boolean; silu: boolean; gState: boolean }

/** The conv backward's four gradients on one device (null where the input is absent). */
async function convGrads(dev: DeviceName, c: ConvConfig, seed: number): Promise<(ArrayLike<number> | null)[]> {
  const { B, L, D, K } = c;
  const S = K - 1;
  const t = (n: number, shape: number[], s: number) => ops.tensor(randomArray(n, seed + s, -2, 2), shape, { device: dev });
  const x = t(B * L * D, [B, L, D], 1);
  const w = t(D * K, [D, K], 2);
  const bias = c.bias ? t(D, [D], 3) : null;
  const state = c.state ? t(B * D * S, [B, D, S], 4) : null;
  const gOut = t(B * L * D, [B, L, D], 5);
  const gState = c.gState ? t(B * D * S, [B, D, S], 6) : null;
  const o: ConvOptions = { silu: c.silu };
  const g = getBackend(dev).causalConv1dBackward!(x, w, bias, state, o, gOut, gState);
  const out = [];
  for (const r of [g.dx, g.dw, g.dbias, g.dstate]) {
    out.push(r ? await r.data() : null);
    r?.dispose();
  }
  for (const r of [x, w, bias, state, gOut, gState]) r?.dispose();
  return out;
}

const convConfigs: ConvConfig[] = [];
for (const [B, L, D, K] of [[1, 1, 5, 4], [2, 9, 70, 4], [3, 40, 37, 3], [2, 2, 300, 4], [1, 6, 3, 1]] as const) {
  for (const bias of [false, true]) {
    for (const state of [false, true]) {
      convConfigs.push({ B, L, D, K, bias, state, silu: (B + L + (bias ? 1 : 0)) % 2 === 0, gState: state !== bias });
      convConfigs.push({ B, L, D, K, bias, state, silu: (B + L + (bias ? 1 : 0)) % 2 === 1, gState: state === bias });
    }
  }
}
// Enough (b, t) rows that dw is summed over several chunks.
convConfigs.push({ B: 3, L: 500, D: 65, K: 4, bias: true, state: true, silu: true, gState: true });

test('webgpu causalConv1dBackward matches the CPU', async (t) => {
  if (!hasGpu) {
    t.skip('no WebGPU adapter');
    return;
  }
  for (const [i, c] of convConfigs.entries()) {
    const want = await convGrads('cpu', c, 100 * i);
    const got = await convGrads('webgpu', c, 100 * i);
    ['dx', 'dw', 'dbias', 'dstate'].forEach((name, j) => {
      const label = `${name} for ${JSON.stringify(c)}`;
      if (!want[j]) return assert.equal(got[j], null, `${label} should be null`);
      assert.ok(got[j], `${label} missing`);
      assertClose(label, got[j]!, want[j]!, 1e-5);
    });
  }
});

async function embeddingGrad(dev: DeviceName, ids: Int32Array, idShape: number[], g: Float32Array, H: number, V: number): Promise<ArrayLike<number>> {
  const tid = ops.tensor(ids, idShape, { device: dev, dtype: 'i32' });
  const tg = ops.tensor(g, [...idShape, H], { device: dev });
  const d: Tensor = getBackend(dev).embeddingBackward!(tid, tg, V);
  assert.deepEqual(d.shape, [V, H]);
  const out = await d.data();
  for (const r of [tid, tg, d]) r.dispose();
  return out;
}

test('webgpu embeddingBackward matches the CPU, with many positions on one row', async (t) => {
  if (!hasGpu) {
    t.skip('no WebGPU adapter');
    return;
  }
  const cases: { B: number; L: number; H: number; V: number; ids: (i: number) => number }[] = [
    { B: 1, L: 1, H: 7, V: 3, ids: () => 2 },
    { B: 2, L: 5, H: 33, V: 10, ids: (i) => (i * 7) % 10 }, // distinct rows
    { B: 3, L: 200, H: 64, V: 50, ids: (i) => (i % 3 === 0 ? 4 : (i * 13) % 50) }, // row 4 from 200 positions
    { B: 4, L: 256, H: 300, V: 5, ids: () => 1 }, // every position on one row: heavy contention
    // V · ⌈H/64⌉ · positions past EMB_BWD_DETERMINISTIC_WORK (2^28): the atomic kernel
    { B: 1, L: 4000, H: 64, V: 70000, ids: (i) => (i * 7) % 50 },
  ];
  for (const [n, c] of cases.entries()) {
    const N = c.B * c.L;
    const ids = Int32Array.from({ length: N }, (_, i) => c.ids(i));
    const g = randomArray(N * c.H, 700 + n, -1, 1);
    const want = await embeddingGrad('cpu', ids, [c.B, c.L], g, c.H, c.V);
    const got = await embeddingGrad('webgpu', ids, [c.B, c.L], g, c.H, c.V);
    assertClose(`embedding grad B=${c.B} L=${c.L} H=${c.H} V=${c.V}`, got, want, 1e-5);
  }
});

test('webgpu embeddingBackward is deterministic for small vocabularies (the same bits every run)', async (t) => {
  if (!hasGpu) {
    t.skip('no WebGPU adapter');
    return;
  }
  // Thousands of positions over 16 rows (the synthetic tasks' vocabulary), over several slices.
  const [B, L, H, V] = [4, 1500, 64, 16];
  const ids = Int32Array.from({ length: B * L }, (_, i) => (i * 5 + (i >> 3)) % V);
  const g = randomArray(B * L * H, 901, -1, 1);
  const first = Float32Array.from(await embeddingGrad('webgpu', ids, [B, L], g, H, V));
  for (let run = 0; run < 3; run++) assert.deepEqual(Float32Array.from(await embeddingGrad('webgpu', ids, [B, L], g, H, V)), first, `run ${run + 2}`);
  assertClose('embedding grad (deterministic)', first, await embeddingGrad('cpu', ids, [B, L], g, H, V), 1e-5);
});

test('webgpu siluGrad (g · silu\'(x) in one pass) equals the CPU\'s, with broadcasting and extreme x', async (t) => {
  if (!hasGpu) {
    t.skip('no WebGPU adapter');
    return;
  }
  // Extremes: exp(−x) overflows below x ≈ −88 (s = 0) and vanishes above (s = 1); neither may give NaN.
  const xs = Float32Array.from([...randomArray(64, 950, -6, 6), -100, -89, -20, 0, 20, 89, 100, 1e-30]);
  const g = randomArray(3 * xs.length, 951, -1, 1);
  const run = async (device: DeviceName) => {
    const b = getBackend(device);
    const gt = ops.tensor(g, [3, xs.length], { device });
    const xt = ops.tensor(xs, [xs.length], { device });
    const y = b.binary('siluGrad', gt, xt, [3, xs.length]);
    const out = Float32Array.from(await y.data());
    for (const v of [gt, xt, y]) v.dispose();
    return out;
  };
  const want = await run('cpu');
  const got = await run('webgpu');
  assert.ok(got.every(Number.isFinite), 'no NaN or infinity');
  assertClose('siluGrad', got, want, 1e-5);
});
