/**
 * The backward of Mamba-2's state space layer over a sequence (ssd-scan.ts is its forward), a tile
 * per (sequence, head). With a_t = exp(Δ_t·A), S_t = a_t·S_{t−1} + Δ_t·x_t ⊗ B_t and
 * y_t = S_t·C_t + D·x_t, walking t backwards with G = ∂L/∂S_t (the later tokens' part carried in dh):
 *
 *   G = dh + gy_t ⊗ C_t                     dC_t += gyᵀ·S_t        dD += gy·x_t
 *   dx_t = Δ_t·(G·B_t) + D·gy_t             dB_t += Δ_t·Gᵀ·x_t
 *   da = ⟨G, S_{t−1}⟩   dΔ_t = x_t·(G·B_t) + A·a_t·da   dA += Δ_t·a_t·da       dh = a_t·G
 *
 * and ∂L/∂S_{−1} = dh at the end. The forward states are recomputed: once keeping the state at each
 * chunk boundary, then chunk by chunk in reverse, keeping the chunk's states and decays for its
 * reverse sweep. Each token's dB and dC rows are written once (every tile writes all of its rows).
 * dA, dD (per head) and dB, dC (per group, shared by its heads) are sums over tiles,
 * so each tile writes its own partial sums and the caller adds them in order: results do not depend
 * on the number of threads.
 */
import {
  SQB_A, SQB_B, SQB_C, SQB_CHUNK, SQB_D, SQB_DA_PARTS, SQB_DB_PARTS, SQB_DC_PARTS, SQB_DD_PARTS, SQB_DDT, SQB_DH0, SQB_DT, SQB_DX, SQB_G_LAST,
  SQB_G_OUT, SQB_GROUPS, SQB_H0, SQB_HEAD_DIM, SQB_HEADS, SQB_L, SQB_N, SQB_TILE_BASE, SQB_WORK, SQB_WORK_BYTES, SQB_X,
} from '../layout';
import { arg } from './control';
import { loadLanes, storeLanes } from './lanes';
import { hsum, madd } from './simd';
import { exp4 } from './vmath';

@inline function ptr(i: i32): usize {
  return <usize><u32>arg(i);
}
@inline function at(p: usize, i: usize): usize {
  return p + (i << 2);
}

/** S ← a·S + (Δ·x) ⊗ B over the P rows of N states at `src`, written at `dst` (may equal src), as ssd-scan.ts computes it. */
@inline function advance(dst: usize, src: usize, a: f32, dt: f32, x: usize, B: usize, P: i32, N: i32): void {
  const av = f32x4.splat(a);
  const rowBytes = <usize>N << 2;
  for (let p = 0; p < P; p++) {
    const xdt = f32x4.splat(load<f32>(at(x, <usize>p)) * dt);
    const row = <usize>p * rowBytes;
    for (let n = 0; n < N; n += 4) {
      const valid = min(4, N - n);
      const o = row + (<usize>n << 2);
      const nb = <usize>n << 2;
      // The forward's arithmetic (ssd-scan.ts), so that both builds recompute its states exactly.
      storeLanes(dst + o, madd(xdt, loadLanes(B + nb, valid), f32x4.mul(loadLanes(src + o, valid), av)), valid);
    }
  }
}

@inline function decayOf(dt: f32, A: f32): f32 {
  return f32x4.extract_lane(exp4(f32x4.splat(dt * A)), 0);
}

export function ssdScanBackwardTile(local: i32): void {
  const L = arg(SQB_L);
  const H = arg(SQB_HEADS);
  const P = arg(SQB_HEAD_DIM);
  const G = arg(SQB_GROUPS);
  const N = arg(SQB_N);
  const T = arg(SQB_CHUNK);
  const tile = arg(SQB_TILE_BASE) + local;
  const b = tile / H;
  const h = tile % H;
  const g = h / (H / G);
  const PN = <usize>P * <usize>N;
  const stateBytes = PN << 2;
  const rowBytes = <usize>N << 2;
  const x = ptr(SQB_X), dtp = ptr(SQB_DT), Bm = ptr(SQB_B), Cm = ptr(SQB_C), h0 = ptr(SQB_H0), gOut = ptr(SQB_G_OUT), gLast = ptr(SQB_G_LAST);
  const dx = ptr(SQB_DX), ddt = ptr(SQB_DDT), dh0 = ptr(SQB_DH0);
  const A = load<f32>(at(ptr(SQB_A), <usize>h));
  const pD = ptr(SQB_D);
  const Dh: f32 = pD ? load<f32>(at(pD, <usize>h)) : 0;
  // This wave's partial sums: slot `local` of each block.
  const dBp = ptr(SQB_DB_PARTS) + <usize>local * <usize>L * rowBytes;
  const dCp = ptr(SQB_DC_PARTS) + <usize>local * <usize>L * rowBytes;
  // Workspace: the chunk boundaries' states, the chunk's states (T + 1), dh, the chunk's decays (T
  // floats, 16-byte padded), each row's G·B partial sums (P vectors).
  const chunks = (L + T - 1) / T;
  const bnd = ptr(SQB_WORK) + <usize>local * ptr(SQB_WORK_BYTES);
  const hs = bnd + <usize>chunks * stateBytes;
  const dh = hs + <usize>(T + 1) * stateBytes;
  const dec = dh + stateBytes;
  const gb = dec + ((<usize>T * 4 + 15) & ~15);
  // Token t's (sequence, token, head) index is ith0 + t·H; its group's B/C row starts at grow0 + t·gStride bytes.
  const ith0 = <usize>b * <usize>L * <usize>H + <usize>h;
  const grow0 = (<usize>b * <usize>L * <usize>G + <usize>g) * rowBytes;
  const gStride = <usize>G * rowBytes;

  // Forward, keeping the state at the start of each chunk (the running state in hs).
  if (h0) memory.copy(hs, h0 + <usize>tile * stateBytes, stateBytes);
  else memory.fill(hs, 0, stateBytes);
  for (let t = 0; t < L; t++) {
    if (t % T == 0) memory.copy(bnd + <usize>(t / T) * stateBytes, hs, stateBytes);
    const dt = load<f32>(at(dtp, (ith0 + <usize>t * <usize>H)));
    advance(hs, hs, decayOf(dt, A), dt, x + (ith0 + <usize>t * <usize>H) * <usize>P * 4, Bm + (grow0 + <usize>t * gStride), P, N);
  }

  if (gLast) memory.copy(dh, gLast + <usize>tile * stateBytes, stateBytes);
  else memory.fill(dh, 0, stateBytes);
  let dA: f32 = 0;
  let dD: f32 = 0;
  for (let c = chunks - 1; c >= 0; c--) {
    const t0 = c * T;
    const len = min(T, L - t0);
    memory.copy(hs, bnd + <usize>c * stateBytes, stateBytes);
    for (let j = 0; j < len; j++) {
      const t = t0 + j;
      const dt = load<f32>(at(dtp, (ith0 + <usize>t * <usize>H)));
      const a = decayOf(dt, A);
      store<f32>(at(dec, <usize>j), a);
      advance(hs + <usize>(j + 1) * stateBytes, hs + <usize>j * stateBytes, a, dt, x + (ith0 + <usize>t * <usize>H) * <usize>P * 4, Bm + (grow0 + <usize>t * gStride), P, N);
    }
    for (let j = len - 1; j >= 0; j--) {
      const t = t0 + j;
      const i = (ith0 + <usize>t * <usize>H);
      const dt = load<f32>(at(dtp, i));
      const a = load<f32>(at(dec, <usize>j));
      const av = f32x4.splat(a);
      const xt = x + i * <usize>P * 4;
      const gy = gOut + i * <usize>P * 4;
      const Bt = Bm + (grow0 + <usize>t * gStride);
      const Ct = Cm + (grow0 + <usize>t * gStride);
      const dBt = dBp + <usize>t * rowBytes;
      const dCt = dCp + <usize>t * rowBytes;
      const Snew = hs + <usize>(j + 1) * stateBytes;
      const Sold = hs + <usize>j * stateBytes;
      // States column by column (four states at a time) so that dB's and dC's sums over the P rows
      // stay in registers; G·B per row is summed in `gb` (P vectors) across the columns.
      let daAcc = f32x4.splat(0);
      memory.fill(gb, 0, <usize>P << 4);
      for (let n = 0; n < N; n += 4) {
        const valid = min(4, N - n);
        const nb = <usize>n << 2;
        const Cn = loadLanes(Ct + nb, valid);
        const Bn = loadLanes(Bt + nb, valid);
        let dBacc = f32x4.splat(0);
        let dCacc = f32x4.splat(0);
        let o = nb;
        for (let p = 0; p < P; p++) {
          const gv = v128.load32_splat(at(gy, <usize>p));
          const Gv = f32x4.add(loadLanes(dh + o, valid), f32x4.mul(gv, Cn));
          const gbp = gb + (<usize>p << 4);
          v128.store(gbp, f32x4.add(v128.load(gbp), f32x4.mul(Gv, Bn)));
          daAcc = f32x4.add(daAcc, f32x4.mul(Gv, loadLanes(Sold + o, valid)));
          dCacc = f32x4.add(dCacc, f32x4.mul(gv, loadLanes(Snew + o, valid)));
          dBacc = f32x4.add(dBacc, f32x4.mul(f32x4.splat(load<f32>(at(xt, <usize>p)) * dt), Gv));
          storeLanes(dh + o, f32x4.mul(av, Gv), valid);
          o += rowBytes;
        }
        storeLanes(dBt + nb, dBacc, valid);
        storeLanes(dCt + nb, dCacc, valid);
      }
      let dtAcc: f32 = 0;
      for (let p = 0; p < P; p++) {
        const xp = load<f32>(at(xt, <usize>p));
        const gp = load<f32>(at(gy, <usize>p));
        dD += gp * xp;
        const GB = hsum(v128.load(gb + (<usize>p << 4)));
        store<f32>(at(dx + i * <usize>P * 4, <usize>p), dt * GB + Dh * gp);
        dtAcc += xp * GB;
      }
      const da = hsum(daAcc);
      store<f32>(at(ddt, i), dtAcc + A * a * da);
      dA += dt * a * da;
    }
  }
  memory.copy(dh0 + <usize>tile * stateBytes, dh, stateBytes);
  store<f32>(at(ptr(SQB_DA_PARTS), <usize>local), dA);
  store<f32>(at(ptr(SQB_DD_PARTS), <usize>local), dD);
}
