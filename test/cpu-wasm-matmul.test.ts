/**
 * The WebAssembly GEMM and gemv against the TypeScript reference kernels, on shapes that reach every
 * edge (odd sizes, K not a multiple of 4 or 8 or of the K block, M = 1, several tiles each way,
 * batches with either side broadcast, every transpose), with f32, bf16 and f16 weights; and with 1
 * and with 3 threads, which must give the same bits.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CpuBackend } from '../src/backend/cpu/index.js';
import type { CpuStorage } from '../src/backend/cpu/storage.js';
import { GEMV_MAX_ROWS } from '../src/backend/cpu/wasm/linear.js';
import type { HalfDType } from '../src/tensor/dtype.js';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../src/tensor/half.js';
import { StorageRef, Tensor } from '../src/tensor/tensor.js';
import { f32On } from './cpu-tensors.js';
import { assertClose, randomArray } from './helpers.js';

const wasm = new CpuBackend({ kernels: 'wasm' });
const reference = new CpuBackend({ kernels: 'ts' });

function half(b: CpuBackend, bits: Uint16Array, shape: number[], dtype: HalfDType): Tensor {
  return new Tensor(shape, dtype, new StorageRef(b, b.uploadHalf!(bits)));
}

interface Case {
  M: number;
  K: number;
  N: number;
  transA?: boolean;
  transB?: boolean;
  /** Batches of A and of B (1 broadcasts). */
  aBatch?: number;
  bBatch?: number;
  weights?: 'f32' | HalfDType;
}

function name(c: Case): string {
  const batch = Math.max(c.aBatch ?? 1, c.bBatch ?? 1);
  return `${c.weights ?? 'f32'} ${batch > 1 ? `${c.aBatch ?? 1}|${c.bBatch ?? 1}×` : ''}(${c.M}×${c.K})·(${c.K}×${c.N}) transA=${!!c.transA} transB=${!!c.transB}`;
}

/** Runs the case on the WebAssembly backend with `threads` threads and on the reference. */
function run(c: Case, threads: number): { got: Float32Array; want: Float32Array; heap: boolean } {
  const aB = c.aBatch ?? 1;
  const bB = c.bBatch ?? 1;
  const batch = Math.max(aB, bB);
  const aShape = [aB, ...(c.transA ? [c.K, c.M] : [c.M, c.K])];
  const bShape = [bB, ...(c.transB ? [c.N, c.K] : [c.K, c.N])];
  const out = [batch, c.M, c.N];
  const a = randomArray(aB * c.M * c.K, c.M * 31 + c.K);
  let b = randomArray(bB * c.K * c.N, c.N * 17 + c.K);
  let bits: Uint16Array | null = null;
  if (c.weights === 'bf16') b = bf16ToF32((bits = f32ToBf16(b)));
  if (c.weights === 'f16') b = f16ToF32((bits = f32ToF16(b)));
  wasm.memory.runtime!.setThreads(threads);
  const o = { transA: !!c.transA, transB: !!c.transB };
  const A = f32On(wasm, a, aShape);
  const B = bits ? half(wasm, bits, bShape, c.weights as HalfDType) : f32On(wasm, b, bShape);
  const Y = wasm.matmul(A, B, out, o);
  const heap = (Y.storage as CpuStorage).heap !== null;
  const got = Y.dataSync() as Float32Array;
  const ref = reference.matmul(f32On(reference, a, aShape), f32On(reference, b, bShape), out, o);
  const want = ref.dataSync() as Float32Array;
  for (const t of [A, B, Y, ref]) t.dispose();
  return { got, want, heap };
}

const cases: Case[] = [
  // gemv: a few rows times a transposed weight
  { M: 1, K: 33, N: 17, transB: true },
  { M: 1, K: 768, N: 301, transB: true },
  { M: GEMV_MAX_ROWS, K: 1540, N: 37, transB: true },
  { M: 2, K: 7, N: 5, transB: true },
  { M: 1, K: 64, N: 96, transB: true, weights: 'bf16' },
  { M: 3, K: 45, N: 70, transB: true, weights: 'bf16' },
  { M: 1, K: 41, N: 9, transB: true, weights: 'f16' },
  { M: 2, K: 200, N: 130, transB: true, weights: 'f16', aBatch: 3, bBatch: 1 },
  { M: 2, K: 100, N: 2003, transB: true, weights: 'bf16' }, // tiles of another size on 3 threads, leftover rows in each
  // GEMM: edges, several tiles each way, K over one K block
  { M: 5, K: 67, N: 131, transB: true },
  { M: 130, K: 300, N: 129, transB: true },
  { M: 257, K: 9, N: 260 },
  { M: 1, K: 50, N: 70 },
  { M: 1, K: 50, N: 70, transA: true },
  { M: 33, K: 258, N: 19, transA: true },
  { M: 18, K: 40, N: 45, transA: true, transB: true },
  { M: 6, K: 5, N: 9, aBatch: 3, bBatch: 3, transA: true },
  { M: 7, K: 12, N: 10, aBatch: 1, bBatch: 4 },
  { M: 7, K: 12, N: 10, aBatch: 4, bBatch: 1, transB: true },
  { M: 37, K: 45, N: 70, transB: true, weights: 'bf16' },
  { M: 140, K: 270, N: 133, transB: true, weights: 'f16' },
  { M: 9, K: 20, N: 24, weights: 'bf16' } as Case, // B (K, N) unpacked: only reached through the backend, not ops
  { M: 3, K: 0, N: 5 },
];

describe('WebAssembly matmul against the TypeScript reference', () => {
  for (const c of cases) {
    test(`${name(c)}: matches, and 1 and 3 threads give the same bits`, () => {
      const one = run(c, 1);
      assert.ok(one.heap, 'the output lives in the WebAssembly heap');
      assertClose(name(c), one.got, one.want, 2e-6 * Math.sqrt(Math.max(1, c.K)));
      const three = run(c, 3);
      assert.deepEqual(three.got, one.got, '3 threads vs 1');
    });
  }
});

test('f16 weights are widened exactly: subnormals, ±0, the largest normal, infinity and NaN', () => {
  const specials = [0x0001, 0x03ff, 0x8001, 0x0000, 0x8000, 0x7bff, 0xfbff, 0x3c00, 0x3555];
  const K = 9;
  // Row n holds specials rotated by n; x = e_k picks column k, so y[n] is one weight exactly.
  const N = specials.length;
  const bits = new Uint16Array(N * K);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) bits[n * K + k] = specials[(n + k) % specials.length]!;
  const widened = f16ToF32(bits);
  const W = half(wasm, bits, [N, K], 'f16');
  for (let k = 0; k < K; k++) {
    const x = new Float32Array(K);
    x[k] = 1;
    const y = wasm.matmul(f32On(wasm, x, [1, K]), W, [1, N], { transA: false, transB: true }).dataSync();
    // A sum that starts at +0 turns -0 into +0, hence === rather than Object.is.
    for (let n = 0; n < N; n++) assert.ok(y[n] === widened[n * K + k], `row ${n}, column ${k}: got ${y[n]}, want ${widened[n * K + k]}`);
  }
  const inf = half(wasm, new Uint16Array([0x7c00, 0x3c00, 0xfc00, 0x3c00, 0x7e00, 0x3c00]), [3, 2], 'f16');
  const y = wasm.matmul(f32On(wasm, new Float32Array([1, 1]), [1, 2]), inf, [1, 3], { transA: false, transB: true }).dataSync();
  assert.deepEqual(Array.from(y), [Infinity, -Infinity, NaN]);
});
