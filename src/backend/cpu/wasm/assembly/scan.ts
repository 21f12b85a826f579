/**
 * The selective scan (../../scan-reference.ts states it), vectorised over four channels at a time:
 * per step t, Δ for four channels is one vector (softplus(δ + bias) computed four at once), and
 * each of the N states is a vector of those four channels' h[n]:
 *
 *   h[n] = exp(Δ·A[:, n]) · h[n] + (Δ·u) · B[t, n]      y = Σ_n C[t, n] · h[n] + D·u,  y ·= silu(z)
 *
 * channels-last inputs make u, δ, z and y one 16-byte access per step. The states of a group
 * (N vectors) and its A columns sit in the thread's scratch. A tile is CHANNEL_TILE channels of one
 * sequence, fixed by the shapes; every channel's arithmetic is the same whatever its tile or lane,
 * so results do not depend on the number of threads. One decode step is the same job with L = 1
 * (initial state in, last state out).
 */
import {
  S_A, S_B, S_C, S_CHANNELS, S_D, S_DELTA, S_DELTA_BIAS, S_FLAGS, S_H0, S_L, S_LAST, S_N, S_OUT, S_TILE_CHANNELS, S_TILES_PER_BATCH, S_U,
  S_Z, SCAN_FLAG_SOFTPLUS,
} from '../layout';
import { arg } from './control';
import { gatherLanes, loadLanes, scatterLanes, storeLanes } from './lanes';
import { madd } from './simd';
import { exp4, silu4, softplus4 } from './vmath';

/** Scans channels d0 … d0+valid−1 of sequence b; h and a are scratch for N vectors each. */
function scanGroup(b: i32, d0: i32, valid: i32, h: usize, a: usize): void {
  const L = arg(S_L);
  const Dn = arg(S_CHANNELS);
  const N = arg(S_N);
  const softplus = (arg(S_FLAGS) & SCAN_FLAG_SOFTPLUS) != 0;
  const pD = <usize>arg(S_D);
  const pZ = <usize>arg(S_Z);
  const pBias = <usize>arg(S_DELTA_BIAS);
  const pH0 = <usize>arg(S_H0);
  const nStride = <usize>N << 2;
  // A's columns and the initial states as (N vectors of four channels).
  const A = <usize>arg(S_A) + <usize>d0 * nStride;
  const h0 = pH0 + (<usize>b * <usize>Dn + <usize>d0) * nStride;
  for (let n = 0; n < N; n++) {
    const off = <usize>n << 2;
    v128.store(a + (<usize>n << 4), gatherLanes(A + off, nStride, valid));
    v128.store(h + (<usize>n << 4), pH0 ? gatherLanes(h0 + off, nStride, valid) : f32x4.splat(0));
  }
  const bias = pBias ? loadLanes(pBias + (<usize>d0 << 2), valid) : f32x4.splat(0);
  const Dskip = pD ? loadLanes(pD + (<usize>d0 << 2), valid) : f32x4.splat(0);
  const rowBytes = <usize>Dn << 2;
  let row = <usize>arg(S_U) + (<usize>b * <usize>L * <usize>Dn + <usize>d0) * 4; // u[b, t, d0]
  const deltaOff = <usize>arg(S_DELTA) - <usize>arg(S_U);
  const outOff = <usize>arg(S_OUT) - <usize>arg(S_U);
  const zOff = pZ - <usize>arg(S_U);
  let bc = <usize>b * <usize>L * nStride;
  const pB = <usize>arg(S_B);
  const pC = <usize>arg(S_C);
  for (let t = 0; t < L; t++) {
    let dt = f32x4.add(loadLanes(row + deltaOff, valid), bias);
    if (softplus) dt = softplus4(dt);
    const u = loadLanes(row, valid);
    const du = f32x4.mul(dt, u);
    const Bt = pB + bc;
    const Ct = pC + bc;
    let y = f32x4.splat(0);
    for (let n = 0; n < N; n++) {
      const hp = h + (<usize>n << 4);
      const decay = exp4(f32x4.mul(dt, v128.load(a + (<usize>n << 4))));
      const hn = madd(du, v128.load32_splat(Bt + (<usize>n << 2)), f32x4.mul(decay, v128.load(hp)));
      v128.store(hp, hn);
      y = madd(v128.load32_splat(Ct + (<usize>n << 2)), hn, y);
    }
    if (pD) y = madd(Dskip, u, y);
    if (pZ) y = f32x4.mul(y, silu4(loadLanes(row + zOff, valid)));
    storeLanes(row + outOff, y, valid);
    row += rowBytes;
    bc += nStride;
  }
  const pLast = <usize>arg(S_LAST) + (<usize>b * <usize>Dn + <usize>d0) * nStride;
  for (let n = 0; n < N; n++) scatterLanes(pLast + (<usize>n << 2), nStride, v128.load(h + (<usize>n << 4)), valid);
}

/** Runs tile `t` of the posted K_SCAN job. */
export function scanTile(t: i32, scratch: usize): void {
  const tilesPerBatch = arg(S_TILES_PER_BATCH);
  const width = arg(S_TILE_CHANNELS);
  const Dn = arg(S_CHANNELS);
  const b = t / tilesPerBatch;
  const c0 = (t % tilesPerBatch) * width;
  const c1 = min(Dn, c0 + width);
  const h = scratch;
  const a = scratch + (<usize>arg(S_N) << 4);
  for (let d = c0; d < c1; d += 4) scanGroup(b, d, min(4, c1 - d), h, a);
}
