/**
 * The tiled matmul with K split into slices (backend/webgpu/kernels/matmul.ts: splitK,
 * splitKSumKernel): products with few output tiles and a long K — a weight's gradient over every
 * token of a batch — against float64 loops, for each transposition, a K that no slice length
 * divides, a batch with a broadcast operand; and the route: split only where the tiles are few and
 * K is long.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { getBackend } from '../src/backend/registry.js';
import type { WebGpuBackend } from '../src/backend/webgpu/index.js';
import { splitK } from '../src/backend/webgpu/kernels/matmul.js';
import { tensor } from '../src/ops/create.js';
import * as ops from '../src/ops/index.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { availableDevices } from './devices.js';
import { launchedKernels } from './gpu-launches.js';
import { assertClose, randomArray } from './helpers.js';

/** C = op(A) · op(B) per batch in float64; A and B given in their stored layouts. */
function reference(a: Float32Array, b: Float32Array, batch: number, aBatched: boolean, M: number, N: number, K: number, transA: boolean, transB: boolean): Float64Array {
  const C = new Float64Array(batch * M * N);
  for (let z = 0; z < batch; z++) {
    const ao = aBatched ? z * M * K : 0;
    const bo = z * K * N;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a[ao + (transA ? k * M + m : m * K + k)]! * b[bo + (transB ? n * K + k : k * N + n)]!;
        C[(z * M + m) * N + n] = s;
      }
    }
  }
  return C;
}

test('splitK: whole K for many tiles or a short K; otherwise about 256 workgroups of stretches ≥ 512, multiples of 16 covering K', () => {
  assert.deepEqual(splitK(128, 1 << 20, 1 << 20), { slices: 1, kLen: 1 << 20 });
  assert.deepEqual(splitK(2, 2048, 1000), { slices: 1, kLen: 1000 });
  for (const [groups, K] of [[2, 264_192], [16, 3000], [1, 100_000], [40, 5000]] as const) {
    const { slices, kLen } = splitK(groups, 64 * 64, K);
    assert.ok(slices > 1 && kLen % 16 === 0 && kLen >= 512 - 16, `${groups} tiles, K ${K}: ${slices} × ${kLen}`);
    assert.ok((slices - 1) * kLen < K && slices * kLen >= K, `${groups} tiles, K ${K}: ${slices} × ${kLen} covers K once`);
    assert.ok(groups * slices <= 256 + groups, `${groups} tiles × ${slices} slices`);
  }
  // The partial products stay under 64 MiB.
  assert.equal(splitK(4, 8 << 20, 1 << 20).slices, 2);
  // An empty product has nothing to split (its grid would otherwise grow with K alone).
  assert.deepEqual(splitK(0, 0, 1 << 25), { slices: 1, kLen: 1 << 25 });
});

describe('WebGPU matmul with K split', async () => {
  const hasGpu = (await availableDevices()).includes('webgpu');
  const cases = [
    // [M, N, K, transA, transB, batch, aBatched]: Xᵀ·dY as a weight gradient takes (TN)
    [20, 40, 3000, true, false, 1, true],
    [33, 17, 2100, false, false, 1, true],
    [300, 50, 1537, false, true, 1, true], // over the gemv's rows
    [16, 24, 1200, true, false, 2, false],
  ] as const;
  for (const [M, N, K, transA, transB, batch, aBatched] of cases) {
    test(`${transA ? 'T' : 'N'}${transB ? 'T' : 'N'} M=${M} N=${N} K=${K} batch ${batch}${aBatched ? '' : ' (A broadcast)'}: split into slices, equal to float64 loops`, async (c) => {
      if (!hasGpu) return c.skip('no WebGPU adapter');
      const gpu = getBackend('webgpu') as WebGpuBackend;
      const av = randomArray((aBatched ? batch : 1) * M * K, 1 + K);
      const bv = randomArray(batch * K * N, 2 + K);
      const lead = batch > 1 ? [batch] : [];
      const a = tensor(av, [...(aBatched ? lead : []), ...(transA ? [K, M] : [M, K])], { device: 'webgpu' });
      const b = tensor(bv, [...lead, ...(transB ? [N, K] : [K, N])], { device: 'webgpu' });
      let y: Tensor | null = null;
      const keys = launchedKernels(gpu, () => {
        y = ops.matmul(a, b, { transA, transB });
      });
      assert.ok(keys.includes('matmul_split_k_sum'), `launched ${keys.join(', ')}`);
      assertClose('split-K matmul', (await y!.data()) as Float32Array, reference(av, bv, batch, aBatched, M, N, K, transA, transB), 1e-5);
      for (const t of [a, b, y!]) t.dispose();
    });
  }
  test('a product with many output tiles, a short K, or no outputs runs unsplit', (c) => {
    if (!hasGpu) return c.skip('no WebGPU adapter');
    const gpu = getBackend('webgpu') as WebGpuBackend;
    for (const [M, N, K] of [[20, 40, 500], [600, 600, 2048], [0, 3, 4096]] as const) {
      const a = tensor(randomArray(M * K, 3), [M, K], { device: 'webgpu' });
      const b = tensor(randomArray(K * N, 4), [K, N], { device: 'webgpu' });
      const keys = launchedKernels(gpu, () => ops.matmul(a, b).dispose());
      assert.ok(!keys.includes('matmul_split_k_sum'), `M=${M} N=${N} K=${K}: launched ${keys.join(', ')}`);
      a.dispose();
      b.dispose();
    }
  });
});
