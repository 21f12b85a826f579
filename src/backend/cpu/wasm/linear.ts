/**
 * Matrix products on the WebAssembly kernels: picks gemv (a few rows times a transposed weight,
 * the decode path) or the tiled GEMM, sizes the tiles, and posts the job. No element's arithmetic
 * depends on the tiling (see assembly/gemm.ts and gemv.ts), so every thread count gives the same bits.
 */
import {
  A_B_TYPE, A_BATCH_STRIDE_A, A_BATCH_STRIDE_B, A_FLAGS, A_K, A_M, A_N, A_PTR_A, A_PTR_B, A_PTR_C, A_TILE_COLS, A_TILE_ROWS, A_TILES_M,
  A_TILES_N, FLAG_TRANS_A, FLAG_TRANS_B, GEMM_MAX_TILE_COLS, GEMM_MAX_TILE_ROWS, GEMM_MR, GEMM_NR, K_GEMM, K_GEMV, WEIGHT_BF16, WEIGHT_F16,
  WEIGHT_F32,
} from './layout.js';
import type { KernelPool } from './pool.js';

export type WeightType = 'f32' | 'bf16' | 'f16';

/** Rows of X up to which X · Wᵀ runs as gemv (W read once from memory) rather than as GEMM. */
export const GEMV_MAX_ROWS = 4;
/**
 * Bytes of W per gemv tile: long enough streams (a quarter each), but at least four tiles per
 * thread while tiles stay over 16 KiB. Tiling does not change any row's arithmetic, so it may
 * depend on the thread count.
 */
const GEMV_TILE_MAX_BYTES = 262144;
const GEMV_TILE_MIN_BYTES = 16384;

/** Addresses (bytes) and shapes of C (batch, M, N) = op(A) (batch, M, K) · op(B) (batch, K, N). */
export interface MatmulJob {
  a: number;
  b: number;
  c: number;
  batch: number;
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
  /** Elements from one batch of A (of B) to the next; 0 when one matrix serves every batch. */
  batchStrideA: number;
  batchStrideB: number;
  bType: WeightType;
}

const WEIGHT_CODE: Record<WeightType, number> = { f32: WEIGHT_F32, bf16: WEIGHT_BF16, f16: WEIGHT_F16 };

function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}

export function matmulOnPool(pool: KernelPool, j: MatmulJob): void {
  if (j.batch === 0 || j.M === 0 || j.N === 0) return;
  const args: number[] = [];
  args[A_PTR_A] = j.a;
  args[A_PTR_B] = j.b;
  args[A_PTR_C] = j.c;
  args[A_M] = j.M;
  args[A_N] = j.N;
  args[A_K] = j.K;
  args[A_FLAGS] = (j.transA ? FLAG_TRANS_A : 0) | (j.transB ? FLAG_TRANS_B : 0);
  args[A_B_TYPE] = WEIGHT_CODE[j.bType];
  args[A_BATCH_STRIDE_A] = j.batchStrideA;
  args[A_BATCH_STRIDE_B] = j.batchStrideB;
  if (j.transB && !j.transA && j.M <= GEMV_MAX_ROWS) {
    const rowBytes = Math.max(1, j.K * (j.bType === 'f32' ? 4 : 2));
    const share = Math.ceil(j.N / (4 * pool.threads));
    const rows = roundUp(Math.max(Math.ceil(GEMV_TILE_MIN_BYTES / rowBytes), Math.min(share, Math.ceil(GEMV_TILE_MAX_BYTES / rowBytes))), 4);
    const tilesN = Math.ceil(j.N / rows);
    args[A_TILES_M] = 1;
    args[A_TILES_N] = tilesN;
    args[A_TILE_ROWS] = j.M;
    args[A_TILE_COLS] = rows;
    pool.run(K_GEMV, args, j.batch * tilesN);
    return;
  }
  const tileRows = Math.min(GEMM_MAX_TILE_ROWS, roundUp(j.M, GEMM_MR));
  const tileCols = Math.min(GEMM_MAX_TILE_COLS, roundUp(j.N, GEMM_NR));
  const tilesM = Math.ceil(j.M / tileRows);
  const tilesN = Math.ceil(j.N / tileCols);
  args[A_TILES_M] = tilesM;
  args[A_TILES_N] = tilesN;
  args[A_TILE_ROWS] = tileRows;
  args[A_TILE_COLS] = tileCols;
  pool.run(K_GEMM, args, j.batch * tilesM * tilesN);
}
