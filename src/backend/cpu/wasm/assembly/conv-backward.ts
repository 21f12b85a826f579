/**
 * The causal depthwise conv1d's backward (../../conv-backward.ts states it and stays the
 * reference), four channels per SIMD vector. With xpad = state ++ x,
 * pre[t] = bias + Σ_k w[k]·xpad[t + k] and out = silu(pre) (or pre):
 *
 *   dpre[t] = g[t]·silu'(pre[t]);  dw[k] = Σ_{b,t} dpre[t]·xpad[t + k];  dbias = Σ_{b,t} dpre[t]
 *   dxpad[i] = Σ_{k: 0 ≤ i−k < L} dpre[i − k]·w[k] + gState[i − L] (i ≥ L);  dx[t] = dxpad[t + K − 1],
 *   dstate[s] = dxpad[s]
 *
 * Per sequence, a first pass recomputes pre and writes dpre over dx; dstate is read off dpre; a
 * second pass turns dx's dpre into dx in place, in ascending t (dx[t] reads dpre[t … t + K − 1],
 * and dpre[t] is read last by dx[t]). A tile is CB_TILE_CHANNELS channels over every sequence,
 * so dw and dbias are summed inside it in a fixed order: results do not depend on the thread count.
 */
import {
  CB_BATCH, CB_BIAS, CB_CHANNELS, CB_DBIAS, CB_DSTATE, CB_DW, CB_DX, CB_FLAGS, CB_G_OUT, CB_G_STATE, CB_K, CB_L, CB_STATE, CB_TILE_CHANNELS,
  CB_W, CB_X, CONV_FLAG_SILU,
} from '../layout';
import { arg } from './control';
import { gatherLanes, loadLanes, scatterLanes, storeLanes } from './lanes';
import { exp4 } from './vmath';

@inline function ptr(i: i32): usize {
  return <usize><u32>arg(i);
}

/** Channels d0 … d0+valid−1 over every sequence; w, dw, win: scratch for K, K and K−1 vectors. */
function convBackwardGroup(d0: i32, valid: i32, w: usize, dw: usize, win: usize): void {
  const batch = arg(CB_BATCH);
  const L = arg(CB_L);
  const Dn = arg(CB_CHANNELS);
  const K = arg(CB_K);
  const S = K - 1;
  const silu = (arg(CB_FLAGS) & CONV_FLAG_SILU) != 0;
  const pBias = ptr(CB_BIAS), pState = ptr(CB_STATE), pGState = ptr(CB_G_STATE);
  const pDbias = ptr(CB_DBIAS), pDstate = ptr(CB_DSTATE);
  const kStride = <usize>K << 2;
  const sStride = <usize>S << 2;
  const rowBytes = <usize>Dn << 2;
  const W = ptr(CB_W) + <usize>d0 * kStride;
  for (let k = 0; k < K; k++) {
    v128.store(w + (<usize>k << 4), gatherLanes(W + (<usize>k << 2), kStride, valid));
    v128.store(dw + (<usize>k << 4), f32x4.splat(0));
  }
  const bias = pBias ? loadLanes(pBias + (<usize>d0 << 2), valid) : f32x4.splat(0);
  let dbias = f32x4.splat(0);
  for (let b = 0; b < batch; b++) {
    const st = pState + (<usize>b * <usize>Dn + <usize>d0) * sStride;
    for (let s = 0; s < S; s++) v128.store(win + (<usize>s << 4), pState ? gatherLanes(st + (<usize>s << 2), sStride, valid) : f32x4.splat(0));
    const x = ptr(CB_X) + (<usize>b * <usize>L * <usize>Dn + <usize>d0) * 4; // x[b, 0, d0]
    const g = ptr(CB_G_OUT) + (<usize>b * <usize>L * <usize>Dn + <usize>d0) * 4;
    const dx = ptr(CB_DX) + (<usize>b * <usize>L * <usize>Dn + <usize>d0) * 4;
    // Pass 1: dpre over dx; dw and dbias.
    for (let t = 0; t < L; t++) {
      let pre = bias;
      for (let k = 0; k < K; k++) {
        const src = t + k - S;
        const v = src < 0 ? v128.load(win + (<usize>(src + S) << 4)) : loadLanes(x + <usize>src * rowBytes, valid);
        pre = f32x4.add(pre, f32x4.mul(v128.load(w + (<usize>k << 4)), v));
      }
      let dpre = loadLanes(g + <usize>t * rowBytes, valid);
      if (silu) {
        const sg = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), exp4(f32x4.neg(pre))));
        dpre = f32x4.mul(dpre, f32x4.add(sg, f32x4.mul(pre, f32x4.mul(sg, f32x4.sub(f32x4.splat(1), sg)))));
      }
      dbias = f32x4.add(dbias, dpre);
      for (let k = 0; k < K; k++) {
        const src = t + k - S;
        const v = src < 0 ? v128.load(win + (<usize>(src + S) << 4)) : loadLanes(x + <usize>src * rowBytes, valid);
        const dwk = dw + (<usize>k << 4);
        v128.store(dwk, f32x4.add(v128.load(dwk), f32x4.mul(dpre, v)));
      }
      storeLanes(dx + <usize>t * rowBytes, dpre, valid);
    }
    // dstate[s] = dxpad[s] = Σ_{k ≤ s, s−k < L} dpre[s − k]·w[k] + gState[s − L] (s ≥ L), before pass 2 overwrites dpre.
    const gs = pGState + (<usize>b * <usize>Dn + <usize>d0) * sStride;
    if (pDstate) {
      const ds = pDstate + (<usize>b * <usize>Dn + <usize>d0) * sStride;
      for (let s = 0; s < S; s++) {
        let acc = s >= L && pGState ? gatherLanes(gs + (<usize>(s - L) << 2), sStride, valid) : f32x4.splat(0);
        for (let k = 0; k <= s; k++) {
          if (s - k < L) acc = f32x4.add(acc, f32x4.mul(loadLanes(dx + <usize>(s - k) * rowBytes, valid), v128.load(w + (<usize>k << 4))));
        }
        scatterLanes(ds + (<usize>s << 2), sStride, acc, valid);
      }
    }
    // Pass 2: dx[t] = dxpad[t + S], in place over dpre in ascending t.
    for (let t = 0; t < L; t++) {
      const i = t + S;
      let acc = i >= L && pGState ? gatherLanes(gs + (<usize>(i - L) << 2), sStride, valid) : f32x4.splat(0);
      for (let k = 0; k < K; k++) {
        const j = i - k;
        if (j >= 0 && j < L) acc = f32x4.add(acc, f32x4.mul(loadLanes(dx + <usize>j * rowBytes, valid), v128.load(w + (<usize>k << 4))));
      }
      storeLanes(dx + <usize>t * rowBytes, acc, valid);
    }
  }
  const pDw = ptr(CB_DW) + <usize>d0 * kStride;
  for (let k = 0; k < K; k++) scatterLanes(pDw + (<usize>k << 2), kStride, v128.load(dw + (<usize>k << 4)), valid);
  if (pDbias) storeLanes(pDbias + (<usize>d0 << 2), dbias, valid);
}

/** Runs tile `t` (a block of channels over every sequence) of the posted K_CONV1D_BACKWARD job. */
export function conv1dBackwardTile(t: i32, scratch: usize): void {
  const width = arg(CB_TILE_CHANNELS);
  const Dn = arg(CB_CHANNELS);
  const K = arg(CB_K);
  const c0 = t * width;
  const c1 = min(Dn, c0 + width);
  const w = scratch;
  const dw = w + (<usize>K << 4);
  const win = dw + (<usize>K << 4);
  for (let d = c0; d < c1; d += 4) convBackwardGroup(d, min(4, c1 - d), w, dw, win);
}
