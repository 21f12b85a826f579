/**
 * Causal depthwise conv1d (../../layers.ts, causalConv1dKernel, states it) over channels-last
 * (batch, L, channels), vectorised over four channels: out[t] = bias + Σ_k w[:, k] · xpad[t + k],
 * xpad being the K−1 state columns followed by x; SiLU optionally applied; the new state is the
 * last K−1 columns of xpad. One decode step is the same job with L = 1. A group's K weight
 * vectors and its K−1 state vectors sit in the thread's scratch. Tiles are CHANNEL_TILE channels of
 * one sequence, and a channel's arithmetic is the same in any tile or lane.
 */
import {
  CONV_FLAG_SILU, CV_BIAS, CV_CHANNELS, CV_FLAGS, CV_K, CV_L, CV_NEW_STATE, CV_OUT, CV_STATE, CV_TILE_CHANNELS, CV_TILES_PER_BATCH, CV_W, CV_X,
} from '../layout';
import { arg } from './control';
import { gatherLanes, loadLanes, scatterLanes, storeLanes } from './lanes';
import { madd } from './simd';
import { silu4 } from './vmath';

function conv1dGroup(b: i32, d0: i32, valid: i32, w: usize, win: usize): void {
  const L = arg(CV_L);
  const Dn = arg(CV_CHANNELS);
  const K = arg(CV_K);
  const S = K - 1;
  const silu = (arg(CV_FLAGS) & CONV_FLAG_SILU) != 0;
  const pBias = <usize>arg(CV_BIAS);
  const pState = <usize>arg(CV_STATE);
  const kStride = <usize>K << 2;
  const sStride = <usize>S << 2;
  const W = <usize>arg(CV_W) + <usize>d0 * kStride;
  for (let k = 0; k < K; k++) v128.store(w + (<usize>k << 4), gatherLanes(W + (<usize>k << 2), kStride, valid));
  const st = pState + (<usize>b * <usize>Dn + <usize>d0) * sStride;
  for (let s = 0; s < S; s++) v128.store(win + (<usize>s << 4), pState ? gatherLanes(st + (<usize>s << 2), sStride, valid) : f32x4.splat(0));
  const bias = pBias ? loadLanes(pBias + (<usize>d0 << 2), valid) : f32x4.splat(0);
  const rowBytes = <usize>Dn << 2;
  const x = <usize>arg(CV_X) + (<usize>b * <usize>L * <usize>Dn + <usize>d0) * 4; // x[b, 0, d0]
  const out = <usize>arg(CV_OUT) + (<usize>b * <usize>L * <usize>Dn + <usize>d0) * 4;
  for (let t = 0; t < L; t++) {
    let acc = bias;
    for (let k = 0; k < K; k++) {
      const src = t + k - S;
      const v = src < 0 ? v128.load(win + (<usize>(src + S) << 4)) : loadLanes(x + <usize>src * rowBytes, valid);
      acc = madd(v128.load(w + (<usize>k << 4)), v, acc);
    }
    if (silu) acc = silu4(acc);
    storeLanes(out + <usize>t * rowBytes, acc, valid);
  }
  const ns = <usize>arg(CV_NEW_STATE) + (<usize>b * <usize>Dn + <usize>d0) * sStride;
  for (let s = 0; s < S; s++) {
    const src = L + s - S; // xpad index L + s, as an index into x
    const v = src < 0 ? v128.load(win + (<usize>(L + s) << 4)) : loadLanes(x + <usize>src * rowBytes, valid);
    scatterLanes(ns + (<usize>s << 2), sStride, v, valid);
  }
}

/** Runs tile `t` of the posted K_CONV1D job. */
export function conv1dTile(t: i32, scratch: usize): void {
  const tilesPerBatch = arg(CV_TILES_PER_BATCH);
  const width = arg(CV_TILE_CHANNELS);
  const Dn = arg(CV_CHANNELS);
  const b = t / tilesPerBatch;
  const c0 = (t % tilesPerBatch) * width;
  const c1 = min(Dn, c0 + width);
  const w = scratch;
  const win = scratch + (<usize>arg(CV_K) << 4);
  for (let d = c0; d < c1; d += 4) conv1dGroup(b, d, min(4, c1 - d), w, win);
}
