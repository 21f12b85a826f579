/**
 * Where the CPU backend's matmul runs: the WebAssembly kernels (wasm/linear.ts) when the kernels
 * are on and all three buffers live in their memory, else the TypeScript reference (matmul.ts),
 * which widens a 16-bit weight to float32 first.
 */
import type { HalfDType } from '../../tensor/dtype.js';
import { widenHalfInto } from '../../tensor/half.js';
import { gemmNT, transpose2d } from './matmul.js';
import type { CpuStorage } from './storage.js';
import { matmulOnPool } from './wasm/linear.js';
import type { WasmRuntime } from './wasm/runtime.js';

export interface MatmulDims {
  batch: number;
  M: number;
  N: number;
  K: number;
  /** Batches of A and of B: 1 (broadcast) or `batch`. */
  aBatch: number;
  bBatch: number;
  transA: boolean;
  transB: boolean;
}

/** c (batch, M, N) = op(a) · op(b); b's dtype is f32 or, transposed, a half. */
export function cpuMatmul(rt: WasmRuntime | null, a: CpuStorage, b: CpuStorage, bType: 'f32' | HalfDType, c: CpuStorage, d: MatmulDims): void {
  if (rt && a.heap === rt.heap && b.heap === rt.heap && c.heap === rt.heap) {
    matmulOnPool(rt.pool, {
      a: a.ptr, b: b.ptr, c: c.ptr, batch: d.batch, M: d.M, N: d.N, K: d.K, transA: d.transA, transB: d.transB,
      batchStrideA: d.aBatch === 1 ? 0 : d.M * d.K, batchStrideB: d.bBatch === 1 ? 0 : d.N * d.K, bType,
    });
    return;
  }
  let B: Float32Array;
  if (bType === 'f32') B = b.data as Float32Array;
  else {
    B = new Float32Array(b.length);
    widenHalfInto(bType, b.bits, 0, b.length, B, 0);
  }
  matmulReference(a.data as Float32Array, B, c.data as Float32Array, d);
}

/** The TypeScript reference: every layout transposed into gemmNT's (A (M, K), B (N, K)). */
function matmulReference(A: Float32Array, B: Float32Array, C: Float32Array, d: MatmulDims): void {
  const { M, N, K } = d;
  const aTmp = d.transA ? new Float32Array(M * K) : null;
  const bTmp = d.transB ? null : new Float32Array(N * K);
  for (let i = 0; i < d.batch; i++) {
    // Broadcast batch: a batch of 1 is reused; otherwise the same index.
    const ai = d.aBatch === 1 ? 0 : i;
    const bi = d.bBatch === 1 ? 0 : i;
    let aSrc = A;
    let aOff = ai * M * K;
    if (aTmp) {
      transpose2d(A, aOff, K, M, aTmp);
      aSrc = aTmp;
      aOff = 0;
    }
    let bSrc = B;
    let bOff = bi * N * K;
    if (bTmp) {
      transpose2d(B, bOff, K, N, bTmp);
      bSrc = bTmp;
      bOff = 0;
    }
    gemmNT(aSrc, aOff, bSrc, bOff, C, i * M * N, M, N, K);
  }
}
