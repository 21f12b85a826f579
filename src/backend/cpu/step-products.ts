/**
 * The products of the CPU's fused decode steps (mamba-step.ts, mamba2-step.ts): y = x · Wᵀ for a
 * few rows on the WebAssembly pool, with the weight f32 or packed bf16/f16 as it is stored, and a
 * bias added to every row.
 */
import type { Tensor } from '../../tensor/tensor.js';
import type { CpuStorage } from './storage.js';
import { matmulOnPool, type WeightType } from './wasm/linear.js';
import type { KernelPool } from './wasm/pool.js';

/** y (rows, nOut) = x (rows, kIn) · wᵀ, x and y given by their heap addresses. */
export function rowsTimesWeight(pool: KernelPool, x: number, w: Tensor, y: number, rows: number, nOut: number, kIn: number): void {
  matmulOnPool(pool, {
    a: x, b: (w.storage as CpuStorage).ptr, c: y, batch: 1, M: rows, N: nOut, K: kIn, transA: false, transB: true, batchStrideA: 0, batchStrideB: 0,
    bType: w.dtype as WeightType,
  });
}

/** y (rows, n) += bias (n) on every row; nothing without a bias. */
export function addRowBias(y: Float32Array, bias: Tensor | null, rows: number, n: number): void {
  if (!bias) return;
  const b = (bias.storage as CpuStorage).data as Float32Array;
  for (let r = 0; r < rows; r++) for (let j = 0; j < n; j++) y[r * n + j] += b[j]!;
}
