/**
 * C = op(A) · op(B), float32, batched: A (M, K) or stored transposed (K, M); B (K, N) or stored
 * transposed (N, K), in f32, bf16 or f16 (widened while packing). One tile is TR × TC of C over
 * the whole of K, computed by one thread:
 *
 *   for each block of KC along K:
 *     pack op(A)'s TR × KC block into MR-row panels (k-major: MR values per k), zero-padded;
 *     pack op(B)'s KC × TC block into NR-column panels (NR values per k), zero-padded;
 *     for each NR-column panel (stays in L1) and each MR-row panel (streams from L2):
 *       an MR × NR micro-tile of C in registers, NR/4 · MR accumulators, one multiply-add per
 *       A broadcast and B vector; added to C (or written, for the first K block).
 *
 * Each element of C is Σ over K blocks in order of (Σ over k in order), whatever the tiling around
 * it; partial micro-tiles at the edges go through a scratch tile and the same arithmetic.
 */
import {
  A_B_TYPE, A_BATCH_STRIDE_A, A_BATCH_STRIDE_B, A_FLAGS, A_K, A_M, A_N, A_PTR_A, A_PTR_B, A_PTR_C, A_TILE_COLS, A_TILE_ROWS,
  A_TILES_M, A_TILES_N, FLAG_TRANS_A, FLAG_TRANS_B, GEMM_KC, GEMM_MAX_TILE_COLS, GEMM_MAX_TILE_ROWS, GEMM_MR, GEMM_NR, WEIGHT_BF16, WEIGHT_F32,
} from '../layout';
import { arg } from './control';
import { madd } from './simd';
import { weightAt, weights4, weights8High, weights8Low } from './weights';

const MR = GEMM_MR;
const NR = GEMM_NR;
const KC = GEMM_KC;

/** Columns j of the 4 × 4 block whose rows are r0 … r3 (a transpose in registers). */
@inline function column0(r0: v128, r1: v128, r2: v128, r3: v128): v128 {
  return i32x4.shuffle(i32x4.shuffle(r0, r1, 0, 4, 1, 5), i32x4.shuffle(r2, r3, 0, 4, 1, 5), 0, 1, 4, 5);
}
@inline function column1(r0: v128, r1: v128, r2: v128, r3: v128): v128 {
  return i32x4.shuffle(i32x4.shuffle(r0, r1, 0, 4, 1, 5), i32x4.shuffle(r2, r3, 0, 4, 1, 5), 2, 3, 6, 7);
}
@inline function column2(r0: v128, r1: v128, r2: v128, r3: v128): v128 {
  return i32x4.shuffle(i32x4.shuffle(r0, r1, 2, 6, 3, 7), i32x4.shuffle(r2, r3, 2, 6, 3, 7), 0, 1, 4, 5);
}
@inline function column3(r0: v128, r1: v128, r2: v128, r3: v128): v128 {
  return i32x4.shuffle(i32x4.shuffle(r0, r1, 2, 6, 3, 7), i32x4.shuffle(r2, r3, 2, 6, 3, 7), 2, 3, 6, 7);
}

/**
 * Packs rows [m0, m0 + mb) and k in [k0, k0 + kc) of op(A) into MR-row panels at `ap`:
 * ap[panel][k][r] = op(A)[m0 + panel·MR + r, k0 + k], zero beyond row M.
 */
function packA(a: usize, M: i32, K: i32, transA: bool, m0: i32, mb: i32, k0: i32, kc: i32, ap: usize): void {
  for (let p = 0; p < mb; p += MR) {
    const dst = ap + (<usize>(p * kc) << 2);
    const rows = min(MR, mb - p);
    const m = m0 + p;
    if (transA) {
      // Stored (K, M): the MR values of one k are adjacent.
      for (let k = 0; k < kc; k++) {
        const src = a + (<usize>((k0 + k) * M + m) << 2);
        const d = dst + (<usize>(k * MR) << 2);
        if (rows == MR) v128.store(d, v128.load(src));
        else for (let r = 0; r < MR; r++) store<f32>(d + (<usize>r << 2), r < rows ? load<f32>(src + (<usize>r << 2)) : 0);
      }
      continue;
    }
    // Stored (M, K): MR rows, each contiguous in k; 4 × 4 blocks are transposed in registers.
    const row = a + (<usize>(m * K + k0) << 2);
    const ld = <usize>K << 2;
    let k = 0;
    if (rows == MR) {
      for (; k + 4 <= kc; k += 4) {
        const s = row + (<usize>k << 2);
        const r0 = v128.load(s);
        const r1 = v128.load(s + ld);
        const r2 = v128.load(s + 2 * ld);
        const r3 = v128.load(s + 3 * ld);
        const d = dst + (<usize>(k * MR) << 2);
        v128.store(d, column0(r0, r1, r2, r3));
        v128.store(d, column1(r0, r1, r2, r3), 16);
        v128.store(d, column2(r0, r1, r2, r3), 32);
        v128.store(d, column3(r0, r1, r2, r3), 48);
      }
    }
    for (; k < kc; k++) {
      const d = dst + (<usize>(k * MR) << 2);
      for (let r = 0; r < MR; r++) {
        store<f32>(d + (<usize>r << 2), r < rows ? load<f32>(row + <usize>r * ld + (<usize>k << 2)) : 0);
      }
    }
  }
}

/**
 * Packs k in [k0, k0 + kc) and columns [n0, n0 + nb) of op(B) into NR-column panels at `bp`:
 * bp[panel][k][c] = op(B)[k0 + k, n0 + panel·NR + c] as float32, zero beyond column N.
 */
function packB<T>(b: usize, N: i32, K: i32, transB: bool, k0: i32, kc: i32, n0: i32, nb: i32, bp: usize): void {
  for (let q = 0; q < nb; q += NR) {
    const dst = bp + (<usize>(q * kc) << 2);
    const cols = min(NR, nb - q);
    const n = n0 + q;
    if (!transB) {
      // Stored (K, N): the NR values of one k are adjacent.
      for (let k = 0; k < kc; k++) {
        const i = <usize>((k0 + k) * N + n);
        const d = dst + (<usize>(k * NR) << 2);
        if (cols == NR) {
          if (isFloat<T>()) {
            v128.store(d, weights4<T>(b, i));
            v128.store(d, weights4<T>(b, i + 4), 16);
          } else {
            const h = v128.load(b + (i << 1));
            v128.store(d, weights8Low<T>(h));
            v128.store(d, weights8High<T>(h), 16);
          }
        } else {
          for (let c = 0; c < NR; c++) store<f32>(d + (<usize>c << 2), c < cols ? weightAt<T>(b, i + c) : 0);
        }
      }
      continue;
    }
    // Stored (N, K): NR rows, each contiguous in k; transposed 4 × 4 at a time.
    const first = <usize>(n * K + k0);
    let k = 0;
    if (cols == NR) {
      for (; k + 4 <= kc; k += 4) {
        const i = first + <usize>k;
        const d = dst + (<usize>(k * NR) << 2);
        for (let half = 0; half < 2; half++) {
          const j = i + <usize>(half * 4 * K);
          const r0 = weights4<T>(b, j);
          const r1 = weights4<T>(b, j + <usize>K);
          const r2 = weights4<T>(b, j + <usize>(2 * K));
          const r3 = weights4<T>(b, j + <usize>(3 * K));
          const dh = d + (<usize>half << 4);
          v128.store(dh, column0(r0, r1, r2, r3));
          v128.store(dh, column1(r0, r1, r2, r3), 32);
          v128.store(dh, column2(r0, r1, r2, r3), 64);
          v128.store(dh, column3(r0, r1, r2, r3), 96);
        }
      }
    }
    for (; k < kc; k++) {
      const d = dst + (<usize>(k * NR) << 2);
      for (let c = 0; c < NR; c++) store<f32>(d + (<usize>c << 2), c < cols ? weightAt<T>(b, first + <usize>(c * K + k)) : 0);
    }
  }
}

/**
 * One MR × NR micro-tile: acc = Σ_k ap[k][r] · bp[k][c], then c[r][·] = acc (first K block) or
 * c[r][·] + acc. `ldc` is C's row stride in bytes.
 */
function micro(ap: usize, bp: usize, kc: i32, c: usize, ldc: usize, first: bool): void {
  let c00 = f32x4.splat(0);
  let c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0);
  let c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0);
  let c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0);
  let c31 = f32x4.splat(0);
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    let a = v128.load32_splat(ap);
    c00 = madd(a, b0, c00);
    c01 = madd(a, b1, c01);
    a = v128.load32_splat(ap, 4);
    c10 = madd(a, b0, c10);
    c11 = madd(a, b1, c11);
    a = v128.load32_splat(ap, 8);
    c20 = madd(a, b0, c20);
    c21 = madd(a, b1, c21);
    a = v128.load32_splat(ap, 12);
    c30 = madd(a, b0, c30);
    c31 = madd(a, b1, c31);
    ap += MR << 2;
    bp += NR << 2;
  }
  if (!first) {
    c00 = f32x4.add(v128.load(c), c00);
    c01 = f32x4.add(v128.load(c, 16), c01);
    c10 = f32x4.add(v128.load(c + ldc), c10);
    c11 = f32x4.add(v128.load(c + ldc, 16), c11);
    c20 = f32x4.add(v128.load(c + 2 * ldc), c20);
    c21 = f32x4.add(v128.load(c + 2 * ldc, 16), c21);
    c30 = f32x4.add(v128.load(c + 3 * ldc), c30);
    c31 = f32x4.add(v128.load(c + 3 * ldc, 16), c31);
  }
  v128.store(c, c00);
  v128.store(c, c01, 16);
  v128.store(c + ldc, c10);
  v128.store(c + ldc, c11, 16);
  v128.store(c + 2 * ldc, c20);
  v128.store(c + 2 * ldc, c21, 16);
  v128.store(c + 3 * ldc, c30);
  v128.store(c + 3 * ldc, c31, 16);
}

function tile<T>(t: i32, scratch: usize): void {
  const M = arg(A_M);
  const N = arg(A_N);
  const K = arg(A_K);
  const flags = arg(A_FLAGS);
  const tilesM = arg(A_TILES_M);
  const tilesN = arg(A_TILES_N);
  const TR = arg(A_TILE_ROWS);
  const TC = arg(A_TILE_COLS);
  const perBatch = tilesM * tilesN;
  const batch = t / perBatch;
  const r = t % perBatch;
  const m0 = (r / tilesN) * TR;
  const n0 = (r % tilesN) * TC;
  const mb = min(TR, M - m0);
  const nb = min(TC, N - n0);
  const a = <usize>arg(A_PTR_A) + (<usize>(batch * arg(A_BATCH_STRIDE_A)) << 2);
  const b = <usize>arg(A_PTR_B) + <usize>(batch * arg(A_BATCH_STRIDE_B)) * sizeof<T>();
  const c = <usize>arg(A_PTR_C) + (<usize>(batch * M * N + m0 * N + n0) << 2);
  const ldc = <usize>N << 2;
  const ap = scratch;
  const bp = ap + (<usize>(GEMM_MAX_TILE_ROWS * KC) << 2);
  const edge = bp + (<usize>(KC * GEMM_MAX_TILE_COLS) << 2);
  if (K == 0) {
    for (let i = 0; i < mb; i++) memory.fill(c + <usize>i * ldc, 0, <usize>nb << 2);
    return;
  }
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min(KC, K - k0);
    const first = k0 == 0;
    packA(a, M, K, (flags & FLAG_TRANS_A) != 0, m0, mb, k0, kc, ap);
    packB<T>(b, N, K, (flags & FLAG_TRANS_B) != 0, k0, kc, n0, nb, bp);
    for (let j = 0; j < nb; j += NR) {
      const bPanel = bp + (<usize>(j * kc) << 2);
      const cols = min(NR, nb - j);
      for (let i = 0; i < mb; i += MR) {
        const aPanel = ap + (<usize>(i * kc) << 2);
        const rows = min(MR, mb - i);
        const cTile = c + <usize>i * ldc + (<usize>j << 2);
        if (rows == MR && cols == NR) {
          micro(aPanel, bPanel, kc, cTile, ldc, first);
          continue;
        }
        // A partial micro-tile: computed whole into `edge`, then only its valid part reaches C.
        micro(aPanel, bPanel, kc, edge, NR << 2, true);
        for (let x = 0; x < rows; x++) {
          for (let y = 0; y < cols; y++) {
            const e = load<f32>(edge + (<usize>(x * NR + y) << 2));
            const p = cTile + <usize>x * ldc + (<usize>y << 2);
            store<f32>(p, first ? e : load<f32>(p) + e);
          }
        }
      }
    }
  }
}

/** Runs tile `t` of the posted K_GEMM job with this thread's scratch. */
export function gemmTile(t: i32, scratch: usize): void {
  const type = arg(A_B_TYPE);
  if (type == WEIGHT_F32) tile<f32>(t, scratch);
  else if (type == WEIGHT_BF16) tile<u16>(t, scratch);
  else tile<i16>(t, scratch);
}
