/**
 * Y = X · Wᵀ for a few rows of X (decoding: M = batch size): X (M, K) float32, W (N, K) in f32,
 * bf16 or f16, Y (M, N). Memory-bound on W, which is read once: a tile is a block of W's rows, cut
 * into four contiguous quarters read side by side (row r of each quarter together), so that memory
 * sees four long sequential streams — four adjacent rows would restart three streams every few
 * rows, and the hardware prefetcher with them (that doubled the time of a 77 MB bf16 LM head). The
 * four rows stay in L1 while every row of X passes over them.
 *
 * Each dot product runs the same way wherever its row falls: two 4-lane accumulators over k in
 * steps of 8, summed (acc0 + acc1) and across lanes in a fixed order, then the last K mod 8
 * products added one by one in order of k. For f32 weights acc0 takes k mod 8 in 0–3 and acc1
 * 4–7; packed halves are split by parity instead (simd.ts: bf16Even …), acc0 taking the even k.
 */
import {
  A_B_TYPE, A_BATCH_STRIDE_A, A_BATCH_STRIDE_B, A_K, A_M, A_N, A_PTR_A, A_PTR_B, A_PTR_C, A_TILE_COLS, A_TILES_N, WEIGHT_BF16, WEIGHT_F32,
} from '../layout';
import { arg } from './control';
import { bf16Even, bf16Odd, evenLanes, f16Even, f16Odd, hsum, madd, oddLanes } from './simd';
import { weightAt } from './weights';

/** x[k … k+7] as the two vectors that pair with the weights' two (see the header). */
@inline function x0<T>(x: usize, k: usize): v128 {
  const lo = v128.load(x + (k << 2));
  return isFloat<T>() ? lo : evenLanes(lo, v128.load(x + (k << 2), 16));
}
@inline function x1<T>(x: usize, k: usize): v128 {
  const hi = v128.load(x + (k << 2), 16);
  return isFloat<T>() ? hi : oddLanes(v128.load(x + (k << 2)), hi);
}

/** Weights k … k+7 of the row at w, as acc0's and acc1's operands. */
@inline function w0<T>(h: v128): v128 {
  return isSigned<T>() ? f16Even(h) : bf16Even(h);
}
@inline function w1<T>(h: v128): v128 {
  return isSigned<T>() ? f16Odd(h) : bf16Odd(h);
}

/** acc0/acc1 += the products of eight x values with eight weights of the row at w. */
@inline function step0<T>(xa: v128, w: usize, k: usize, acc: v128): v128 {
  if (isFloat<T>()) return madd(xa, v128.load(w + (k << 2)), acc);
  return madd(xa, w0<T>(v128.load(w + (k << 1))), acc);
}
@inline function step1<T>(xb: v128, w: usize, k: usize, acc: v128): v128 {
  if (isFloat<T>()) return madd(xb, v128.load(w + (k << 2), 16), acc);
  return madd(xb, w1<T>(v128.load(w + (k << 1))), acc);
}

/** The tail of a dot product: Σ x[k] · w[k] for k in [from, K), added to s in order of k. */
@inline function tail<T>(s: f32, x: usize, w: usize, from: i32, K: i32): f32 {
  for (let k = from; k < K; k++) s += load<f32>(x + (<usize>k << 2)) * weightAt<T>(w, <usize>k);
  return s;
}

/** The dot products of x with the four weight rows at w, wb, wc, wd, into y + 0, yStride, 2·yStride, 3·yStride. */
function dot4<T>(x: usize, w: usize, wb: usize, wc: usize, wd: usize, K: i32, y: usize, yStride: usize): void {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let b0 = f32x4.splat(0);
  let b1 = f32x4.splat(0);
  let c0 = f32x4.splat(0);
  let c1 = f32x4.splat(0);
  let d0 = f32x4.splat(0);
  let d1 = f32x4.splat(0);
  let k = 0;
  for (; k + 8 <= K; k += 8) {
    const i = <usize>k;
    const xa = x0<T>(x, i);
    const xb = x1<T>(x, i);
    if (isFloat<T>()) {
      a0 = step0<T>(xa, w, i, a0);
      a1 = step1<T>(xb, w, i, a1);
      b0 = step0<T>(xa, wb, i, b0);
      b1 = step1<T>(xb, wb, i, b1);
      c0 = step0<T>(xa, wc, i, c0);
      c1 = step1<T>(xb, wc, i, c1);
      d0 = step0<T>(xa, wd, i, d0);
      d1 = step1<T>(xb, wd, i, d1);
    } else {
      // One 16-byte load per row feeds both accumulators.
      let h = v128.load(w + (i << 1));
      a0 = madd(xa, w0<T>(h), a0);
      a1 = madd(xb, w1<T>(h), a1);
      h = v128.load(wb + (i << 1));
      b0 = madd(xa, w0<T>(h), b0);
      b1 = madd(xb, w1<T>(h), b1);
      h = v128.load(wc + (i << 1));
      c0 = madd(xa, w0<T>(h), c0);
      c1 = madd(xb, w1<T>(h), c1);
      h = v128.load(wd + (i << 1));
      d0 = madd(xa, w0<T>(h), d0);
      d1 = madd(xb, w1<T>(h), d1);
    }
  }
  store<f32>(y, tail<T>(hsum(f32x4.add(a0, a1)), x, w, k, K));
  store<f32>(y + yStride, tail<T>(hsum(f32x4.add(b0, b1)), x, wb, k, K));
  store<f32>(y + 2 * yStride, tail<T>(hsum(f32x4.add(c0, c1)), x, wc, k, K));
  store<f32>(y + 3 * yStride, tail<T>(hsum(f32x4.add(d0, d1)), x, wd, k, K));
}

/** y = the dot product of x with the weight row at w, in exactly dot4's order. */
function dot1<T>(x: usize, w: usize, K: i32, y: usize): void {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let k = 0;
  for (; k + 8 <= K; k += 8) {
    const i = <usize>k;
    a0 = step0<T>(x0<T>(x, i), w, i, a0);
    a1 = step1<T>(x1<T>(x, i), w, i, a1);
  }
  store<f32>(y, tail<T>(hsum(f32x4.add(a0, a1)), x, w, k, K));
}

function tile<T>(t: i32): void {
  const M = arg(A_M);
  const N = arg(A_N);
  const K = arg(A_K);
  const tilesN = arg(A_TILES_N);
  const rowsPerTile = arg(A_TILE_COLS);
  const batch = t / tilesN;
  const n0 = (t % tilesN) * rowsPerTile;
  const n1 = min(N, n0 + rowsPerTile);
  const x = <usize>arg(A_PTR_A) + (<usize>(batch * arg(A_BATCH_STRIDE_A)) << 2);
  const w = <usize>arg(A_PTR_B) + <usize>(batch * arg(A_BATCH_STRIDE_B)) * sizeof<T>();
  const y = <usize>arg(A_PTR_C) + (<usize>(batch * M * N) << 2);
  const rowBytes = <usize>K * sizeof<T>();
  // Four long streams: the tile's rows in four contiguous quarters, row r of each quarter together.
  const q = (n1 - n0) >> 2;
  const qBytes = <usize>q * rowBytes;
  for (let r = 0; r < q; r++) {
    const n = n0 + r;
    const wn = w + <usize>n * rowBytes;
    for (let m = 0; m < M; m++) {
      dot4<T>(x + (<usize>(m * K) << 2), wn, wn + qBytes, wn + 2 * qBytes, wn + 3 * qBytes, K, y + (<usize>(m * N + n) << 2), <usize>q << 2);
    }
  }
  for (let n = n0 + 4 * q; n < n1; n++) {
    const wn = w + <usize>n * rowBytes;
    for (let m = 0; m < M; m++) dot1<T>(x + (<usize>(m * K) << 2), wn, K, y + (<usize>(m * N + n) << 2));
  }
}

/** Runs tile `t` of the posted K_GEMV job. */
export function gemvTile(t: i32): void {
  const type = arg(A_B_TYPE);
  if (type == WEIGHT_F32) tile<f32>(t);
  else if (type == WEIGHT_BF16) tile<u16>(t);
  else tile<i16>(t);
}
