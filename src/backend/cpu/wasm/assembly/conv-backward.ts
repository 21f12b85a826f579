/**
 * The causal depthwise conv1d's backward (../../conv-backward.ts states it and stays the
 * reference), four channels per SIMD vector. With xpad = state ++ x,
 * pre[t] = bias + Σ_k w[k]·xpad[t + k] and out = silu(pre) (or pre):
 *
 *   dpre[t] = g[t]·silu'(pre[t]);  dw[k] = Σ_{b,t} dpre[t]·xpad[t + k];  dbias = Σ_{b,t} dpre[t]
 *   dxpad[i] = Σ_{k: 0 ≤ i−k < L} dpre[i − k]·w[k] + gState[i − L] (i ≥ L);  dx[t] = dxpad[t + K − 1],
 *   dstate[s] = dxpad[s]
 *
 * A tile is CB_TILE_CHANNELS (16) channels over every sequence, so dw and dbias are summed inside
 * it in a fixed order: results do not depend on the thread count. Each row of a tile is one 64-byte
 * line, and the tile's four vectors are done together row by row: the rows are D floats apart, and
 * walking them once per vector fetched every line four times (latency-bound: such strides defeat
 * the prefetchers and alias into few L1 sets).
 *
 * One pass per sequence, in ascending t: recompute pre[t] (the forward's multiply-adds, so the
 * same bits), write dpre[t] into dx's row t, and then finish dx[t − K + 1], which reads dpre from
 * rows t − K + 1 … t and is the last to need row t − K + 1's. dstate[s] (s < K − 1) only reads
 * dpre rows 0 … s, taken as soon as row s is written. The last K − 1 rows of dx, which also take
 * gState, are finished after the pass, in ascending t again.
 */
import {
  CB_BATCH, CB_BIAS, CB_CHANNELS, CB_DBIAS, CB_DSTATE, CB_DW, CB_DX, CB_FLAGS, CB_G_OUT, CB_G_STATE, CB_K, CB_L, CB_STATE, CB_TILE_CHANNELS,
  CB_W, CB_X, CONV_FLAG_SILU,
} from '../layout';
import { arg } from './control';
import { gatherLanes, loadLanes, scatterLanes, storeLanes } from './lanes';
import { madd } from './simd';
import { exp4 } from './vmath';

@inline function ptr(i: i32): usize {
  return <usize><u32>arg(i);
}

/** dpre·silu'(pre) = dpre·(σ + pre·σ·(1 − σ)), σ = 1 / (1 + e^−pre). */
@inline function siluGrad(pre: v128, dpre: v128): v128 {
  const sg = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), exp4(f32x4.neg(pre))));
  return f32x4.mul(dpre, f32x4.add(sg, f32x4.mul(pre, f32x4.mul(sg, f32x4.sub(f32x4.splat(1), sg)))));
}

/**
 * Σ_{k = k0 … K−1, 0 ≤ i − k < L} dpre[i − k]·w[k] for one vector of channels: dpre rows of dx at
 * `rows` (row j at rows + j·rowBytes), w the vector's K weights in the scratch.
 */
@inline function dpreTimesW(acc: v128, rows: usize, rowBytes: usize, i: i32, L: i32, K: i32, w: usize, valid: i32): v128 {
  for (let k = 0; k < K; k++) {
    const j = i - k;
    if (j >= 0 && j < L) acc = f32x4.add(acc, f32x4.mul(loadLanes(rows + <usize>j * rowBytes, valid), v128.load(w + (<usize>k << 4))));
  }
  return acc;
}

/** Runs tile `t` (a block of channels over every sequence) of the posted K_CONV1D_BACKWARD job. */
export function conv1dBackwardTile(t: i32, scratch: usize): void {
  const width = arg(CB_TILE_CHANNELS);
  const Dn = arg(CB_CHANNELS);
  const batch = arg(CB_BATCH);
  const L = arg(CB_L);
  const K = arg(CB_K);
  const S = K - 1;
  const silu = (arg(CB_FLAGS) & CONV_FLAG_SILU) != 0;
  const pBias = ptr(CB_BIAS), pState = ptr(CB_STATE), pGState = ptr(CB_G_STATE), pDstate = ptr(CB_DSTATE);
  const c0 = t * width;
  const n = min(Dn, c0 + width) - c0;
  const nv = (n + 3) >> 2;
  const kStride = <usize>K << 2;
  const sStride = <usize>S << 2;
  const rowBytes = <usize>Dn << 2;
  // Scratch, per vector v of the tile: its K weights at w + v·K·16, their gradients at dw + v·K·16,
  // its K − 1 state columns at win + v·S·16 and its bias gradient at db + v·16.
  const vk = <usize>K << 4;
  const vs = <usize>S << 4;
  const w = scratch;
  const dw = w + <usize>nv * vk;
  const win = dw + <usize>nv * vk;
  const db = win + <usize>nv * vs;
  const W = ptr(CB_W) + <usize>c0 * kStride;
  for (let v = 0; v < nv; v++) {
    const valid = min(4, n - (v << 2));
    for (let k = 0; k < K; k++) {
      v128.store(w + <usize>v * vk + (<usize>k << 4), gatherLanes(W + (<usize>(v << 2) * kStride) + (<usize>k << 2), kStride, valid));
      v128.store(dw + <usize>v * vk + (<usize>k << 4), f32x4.splat(0));
    }
    v128.store(db + (<usize>v << 4), f32x4.splat(0));
  }
  for (let b = 0; b < batch; b++) {
    const seq = <usize>b * <usize>L * <usize>Dn + <usize>c0;
    const x = ptr(CB_X) + seq * 4; // x[b, 0, c0]
    const g = ptr(CB_G_OUT) + seq * 4;
    const dx = ptr(CB_DX) + seq * 4;
    const st = pState + (<usize>b * <usize>Dn + <usize>c0) * sStride; // state[b, c0, 0]
    const gs = pGState + (<usize>b * <usize>Dn + <usize>c0) * sStride;
    const ds = pDstate + (<usize>b * <usize>Dn + <usize>c0) * sStride;
    for (let v = 0; v < nv; v++) {
      const valid = min(4, n - (v << 2));
      for (let s = 0; s < S; s++) {
        const col = pState ? gatherLanes(st + (<usize>(v << 2) * sStride) + (<usize>s << 2), sStride, valid) : f32x4.splat(0);
        v128.store(win + <usize>v * vs + (<usize>s << 4), col);
      }
    }
    for (let i = 0; i < L; i++) {
      const row = <usize>i * rowBytes;
      for (let v = 0; v < nv; v++) {
        const valid = min(4, n - (v << 2));
        const lane = <usize>v << 4;
        const wv = w + <usize>v * vk;
        const dwv = dw + <usize>v * vk;
        const wn = win + <usize>v * vs;
        let pre = pBias ? loadLanes(pBias + (<usize>(c0 + (v << 2)) << 2), valid) : f32x4.splat(0);
        for (let k = 0; k < K; k++) {
          const src = i + k - S;
          const xv = src < 0 ? v128.load(wn + (<usize>(src + S) << 4)) : loadLanes(x + <usize>src * rowBytes + lane, valid);
          pre = madd(v128.load(wv + (<usize>k << 4)), xv, pre);
        }
        let dpre = loadLanes(g + row + lane, valid);
        if (silu) dpre = siluGrad(pre, dpre);
        v128.store(db + lane, f32x4.add(v128.load(db + lane), dpre));
        for (let k = 0; k < K; k++) {
          const src = i + k - S;
          const xv = src < 0 ? v128.load(wn + (<usize>(src + S) << 4)) : loadLanes(x + <usize>src * rowBytes + lane, valid);
          const dwk = dwv + (<usize>k << 4);
          v128.store(dwk, f32x4.add(v128.load(dwk), f32x4.mul(dpre, xv)));
        }
        storeLanes(dx + row + lane, dpre, valid);
        // dstate[i] = dxpad[i] for i < K − 1: dpre rows 0 … i, none overwritten yet (row 0 is at i = K − 1).
        if (pDstate && i < S) scatterLanes(ds + (<usize>(v << 2) * sStride) + (<usize>i << 2), sStride, dpreTimesW(f32x4.splat(0), dx + lane, rowBytes, i, L, K, wv, valid), valid);
        // dx[i − S] = dxpad[i]: dpre rows i − S … i; i < L, so no gState term.
        if (i >= S) storeLanes(dx + <usize>(i - S) * rowBytes + lane, dpreTimesW(f32x4.splat(0), dx + lane, rowBytes, i, L, K, wv, valid), valid);
      }
    }
    for (let v = 0; v < nv; v++) {
      const valid = min(4, n - (v << 2));
      const lane = <usize>v << 4;
      const wv = w + <usize>v * vk;
      const gsv = gs + <usize>(v << 2) * sStride;
      // dstate[s] for L ≤ s < K − 1 (a sequence shorter than the state): every dpre row is still there.
      if (pDstate) {
        for (let s = L; s < S; s++) {
          const acc = pGState ? gatherLanes(gsv + (<usize>(s - L) << 2), sStride, valid) : f32x4.splat(0);
          scatterLanes(ds + (<usize>(v << 2) * sStride) + (<usize>s << 2), sStride, dpreTimesW(acc, dx + lane, rowBytes, s, L, K, wv, valid), valid);
        }
      }
      // The last K − 1 rows: dx[t] = dxpad[t + S] with t + S ≥ L, ascending (dx[t] reads dpre rows ≥ t).
      for (let t = max(0, L - S); t < L; t++) {
        const acc = pGState ? gatherLanes(gsv + (<usize>(t + S - L) << 2), sStride, valid) : f32x4.splat(0);
        storeLanes(dx + <usize>t * rowBytes + lane, dpreTimesW(acc, dx + lane, rowBytes, t + S, L, K, wv, valid), valid);
      }
    }
  }
  const pDw = ptr(CB_DW) + <usize>c0 * kStride;
  for (let v = 0; v < nv; v++) {
    const valid = min(4, n - (v << 2));
    for (let k = 0; k < K; k++) scatterLanes(pDw + <usize>(v << 2) * kStride + (<usize>k << 2), kStride, v128.load(dw + <usize>v * vk + (<usize>k << 4)), valid);
    if (ptr(CB_DBIAS)) storeLanes(ptr(CB_DBIAS) + (<usize>(c0 + (v << 2)) << 2), v128.load(db + (<usize>v << 4)), valid);
  }
}
