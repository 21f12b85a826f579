/**
 * The selective scan's backward (the arithmetic of ../../scan-backward.ts, which stays the
 * reference), one SIMD lane per channel: a tile is a block of channels, four at a time, over every
 * batch. The forward states are recomputed twice: once keeping only the state at each chunk
 * boundary, then chunk by chunk in reverse, keeping the chunk's states and decays for its reverse
 * sweep. dA, dD and dbias sum over batches and time inside their tile; dB and dC sum over channels,
 * so each tile writes its own partial sums (lanes added in a fixed order) and the caller adds the
 * tiles in order: the result does not depend on the thread count.
 */
import {
  SB_A, SB_B, SB_BATCH, SB_C, SB_CHUNK, SB_D, SB_DA, SB_DB_PARTS, SB_DBIAS, SB_DC_PARTS, SB_DD, SB_DDELTA, SB_DELTA, SB_DELTA_BIAS, SB_DH0,
  SB_DIM, SB_DU, SB_DZ, SB_G_LAST, SB_G_OUT, SB_H0, SB_L, SB_N, SB_SOFTPLUS, SB_TILE_CHANNELS, SB_U, SB_WORK, SB_WORK_BYTES, SB_Z,
} from '../layout';
import { arg } from './control';
import { hsum } from './simd';
import { exp4, softplus4 } from './vmath';

@inline function ptr(i: i32): usize {
  return <usize><u32>arg(i);
}
/** The float32 at index i of the array at p. */
@inline function f(p: usize, i: i32): f32 {
  return load<f32>(p + (<usize>i << 2));
}
@inline function v(p: usize, i: i32): v128 {
  return v128.load(p + (<usize>i << 2));
}
@inline function vstore(p: usize, i: i32, x: v128): void {
  v128.store(p + (<usize>i << 2), x);
}
/** The v128 slot i of a workspace area. */
@inline function slot(p: usize, i: i32): usize {
  return p + (<usize>i << 4);
}
@inline function splat(x: f32): v128 {
  return f32x4.splat(x);
}
/** Four floats at p + i·stride (floats). */
@inline function gather(p: usize, i: i32, stride: i32): v128 {
  let x = f32x4.splat(f(p, i));
  x = f32x4.replace_lane(x, 1, f(p, i + stride));
  x = f32x4.replace_lane(x, 2, f(p, i + 2 * stride));
  return f32x4.replace_lane(x, 3, f(p, i + 3 * stride));
}
@inline function scatter(p: usize, i: i32, stride: i32, x: v128): void {
  store<f32>(p + (<usize>i << 2), f32x4.extract_lane(x, 0));
  store<f32>(p + (<usize>(i + stride) << 2), f32x4.extract_lane(x, 1));
  store<f32>(p + (<usize>(i + 2 * stride) << 2), f32x4.extract_lane(x, 2));
  store<f32>(p + (<usize>(i + 3 * stride) << 2), f32x4.extract_lane(x, 3));
}

@inline function sigmoidLanes(x: v128): v128 {
  return f32x4.div(splat(1), f32x4.add(splat(1), exp4(f32x4.neg(x))));
}

/** Δ = softplus(δ + bias) (or δ + bias), four channels, as the forward scan computes it (vmath.ts). */
@inline function deltaAt(pre: v128, softplus: bool): v128 {
  return softplus ? softplus4(pre) : pre;
}

export function scanBackwardTile(tile: i32): void {
  const batch = arg(SB_BATCH);
  const L = arg(SB_L);
  const D = arg(SB_DIM);
  const N = arg(SB_N);
  const T = arg(SB_CHUNK);
  const softplus = arg(SB_SOFTPLUS) != 0;
  const perTile = arg(SB_TILE_CHANNELS);
  const u = ptr(SB_U), delta = ptr(SB_DELTA), A = ptr(SB_A), Bm = ptr(SB_B), Cm = ptr(SB_C);
  const Dv = ptr(SB_D), z = ptr(SB_Z), bias = ptr(SB_DELTA_BIAS), h0 = ptr(SB_H0), gOut = ptr(SB_G_OUT), gLast = ptr(SB_G_LAST);
  const du = ptr(SB_DU), ddelta = ptr(SB_DDELTA), dA = ptr(SB_DA), dD = ptr(SB_DD), dz = ptr(SB_DZ), dbias = ptr(SB_DBIAS), dh0 = ptr(SB_DH0);
  const parts = <usize>tile * <usize>batch * <usize>L * <usize>N * 4;
  const dBp = ptr(SB_DB_PARTS) + parts;
  const dCp = ptr(SB_DC_PARTS) + parts;
  memory.fill(dBp, 0, <usize>batch * <usize>L * <usize>N * 4);
  memory.fill(dCp, 0, <usize>batch * <usize>L * <usize>N * 4);
  // Workspace areas (v128 slots).
  const chunks = (L + T - 1) / T;
  const Av = ptr(SB_WORK) + <usize>tile * <usize><u32>arg(SB_WORK_BYTES);
  const h = slot(Av, N);
  const dh = slot(h, N);
  const dAacc = slot(dh, N);
  const bnd = slot(dAacc, N);
  const hs = slot(bnd, chunks * N);
  const dec = slot(hs, (T + 1) * N);
  const dts = slot(dec, T * N);

  const d1 = min(D, (tile + 1) * perTile);
  for (let d0 = tile * perTile; d0 < d1; d0 += 4) {
    const biasV = bias ? v(bias, d0) : splat(0);
    const Dd = Dv ? v(Dv, d0) : splat(0);
    for (let n = 0; n < N; n++) {
      v128.store(slot(Av, n), gather(A, d0 * N + n, N));
      v128.store(slot(dAacc, n), splat(0));
    }
    let dDacc = splat(0);
    let dbiasAcc = splat(0);
    for (let b = 0; b < batch; b++) {
      // Forward: the state at the start of each chunk.
      for (let n = 0; n < N; n++) v128.store(slot(h, n), h0 ? gather(h0, (b * D + d0) * N + n, N) : splat(0));
      for (let t = 0; t < L; t++) {
        if (t % T == 0) memory.copy(slot(bnd, (t / T) * N), h, <usize>N << 4);
        const i = (b * L + t) * D + d0;
        const dt = deltaAt(f32x4.add(v(delta, i), biasV), softplus);
        const dtu = f32x4.mul(dt, v(u, i));
        const bc = (b * L + t) * N;
        for (let n = 0; n < N; n++) {
          const decay = exp4(f32x4.mul(dt, v128.load(slot(Av, n))));
          v128.store(slot(h, n), f32x4.add(f32x4.mul(decay, v128.load(slot(h, n))), f32x4.mul(dtu, splat(f(Bm, bc + n)))));
        }
      }
      // Reverse, chunk by chunk.
      for (let n = 0; n < N; n++) v128.store(slot(dh, n), gLast ? gather(gLast, (b * D + d0) * N + n, N) : splat(0));
      for (let c = chunks - 1; c >= 0; c--) {
        const t0 = c * T;
        const len = min(T, L - t0);
        memory.copy(hs, slot(bnd, c * N), <usize>N << 4);
        for (let j = 0; j < len; j++) {
          const i = (b * L + t0 + j) * D + d0;
          const dt = deltaAt(f32x4.add(v(delta, i), biasV), softplus);
          v128.store(slot(dts, j), dt);
          const dtu = f32x4.mul(dt, v(u, i));
          const bc = (b * L + t0 + j) * N;
          for (let n = 0; n < N; n++) {
            const decay = exp4(f32x4.mul(dt, v128.load(slot(Av, n))));
            v128.store(slot(dec, j * N + n), decay);
            v128.store(slot(hs, (j + 1) * N + n), f32x4.add(f32x4.mul(decay, v128.load(slot(hs, j * N + n))), f32x4.mul(dtu, splat(f(Bm, bc + n)))));
          }
        }
        for (let j = len - 1; j >= 0; j--) {
          const t = t0 + j;
          const i = (b * L + t) * D + d0;
          const bc = (b * L + t) * N;
          const uv = v(u, i);
          const dt = v128.load(slot(dts, j));
          let y = f32x4.mul(Dd, uv);
          for (let n = 0; n < N; n++) y = f32x4.add(y, f32x4.mul(splat(f(Cm, bc + n)), v128.load(slot(hs, (j + 1) * N + n))));
          let dy = v(gOut, i);
          if (z) {
            const zv = v(z, i);
            const s = sigmoidLanes(zv);
            const dsilu = f32x4.add(s, f32x4.mul(f32x4.mul(zv, s), f32x4.sub(splat(1), s)));
            vstore(dz, i, f32x4.mul(f32x4.mul(dy, y), dsilu));
            dy = f32x4.mul(dy, f32x4.mul(zv, s));
          }
          dDacc = f32x4.add(dDacc, f32x4.mul(dy, uv));
          let duv = f32x4.mul(dy, Dd);
          let ddt = splat(0);
          const dtu = f32x4.mul(dt, uv);
          for (let n = 0; n < N; n++) {
            const hPrev = v128.load(slot(hs, j * N + n));
            const Cn = splat(f(Cm, bc + n));
            const Bn = splat(f(Bm, bc + n));
            const An = v128.load(slot(Av, n));
            const decay = v128.load(slot(dec, j * N + n));
            store<f32>(dCp + (<usize>(bc + n) << 2), f(dCp, bc + n) + hsum(f32x4.mul(dy, v128.load(slot(hs, (j + 1) * N + n)))));
            const dhn = f32x4.add(v128.load(slot(dh, n)), f32x4.mul(dy, Cn));
            const dhDecay = f32x4.mul(dhn, decay);
            ddt = f32x4.add(ddt, f32x4.add(f32x4.mul(dhDecay, f32x4.mul(An, hPrev)), f32x4.mul(dhn, f32x4.mul(Bn, uv))));
            v128.store(slot(dAacc, n), f32x4.add(v128.load(slot(dAacc, n)), f32x4.mul(dhDecay, f32x4.mul(dt, hPrev))));
            store<f32>(dBp + (<usize>(bc + n) << 2), f(dBp, bc + n) + hsum(f32x4.mul(dhn, dtu)));
            duv = f32x4.add(duv, f32x4.mul(dhn, f32x4.mul(dt, Bn)));
            v128.store(slot(dh, n), dhDecay);
          }
          vstore(du, i, duv);
          let dpre = ddt;
          if (softplus) dpre = f32x4.mul(ddt, sigmoidLanes(f32x4.add(v(delta, i), biasV)));
          vstore(ddelta, i, dpre);
          dbiasAcc = f32x4.add(dbiasAcc, dpre);
        }
      }
      for (let n = 0; n < N; n++) scatter(dh0, (b * D + d0) * N + n, N, v128.load(slot(dh, n)));
    }
    for (let n = 0; n < N; n++) scatter(dA, d0 * N + n, N, v128.load(slot(dAacc, n)));
    vstore(dD, d0, dDacc);
    vstore(dbias, d0, dbiasAcc);
  }
}
