/**
 * Mamba-2's state space layer (../../../../ops/ssd.ts states it) over a whole sequence, token by
 * token, for one (sequence, head) per tile:
 *
 *   S ← exp(Δ_t·A_h) · S + (Δ_t · x_t) ⊗ B_t,g        y_t = S · C_t,g + D_h · x_t
 *
 * The state (head dim × N) lives in the last-state output while the tile runs (32 KB at the
 * mamba2-130m shape: it stays in the core's cache), four states per vector. On a CPU this costs
 * 2·L·P·N multiply-adds per head, less than the chunked form's within-chunk products (which pay
 * off on a GPU's matrix units, not here). Every tile's arithmetic is fixed by the shapes, so the
 * results do not depend on the number of threads.
 */
import { SQ_A, SQ_B, SQ_C, SQ_D, SQ_DT, SQ_GROUPS, SQ_H0, SQ_HEAD_DIM, SQ_HEADS, SQ_L, SQ_LAST, SQ_N, SQ_OUT, SQ_X } from '../layout';
import { arg } from './control';
import { loadLanes, storeLanes } from './lanes';
import { hsum, madd } from './simd';
import { exp4 } from './vmath';

/** Runs tile `t` (sequence t / heads, head t % heads) of the posted K_SSD_SCAN job. */
export function ssdScanTile(t: i32): void {
  const L = arg(SQ_L);
  const H = arg(SQ_HEADS);
  const P = arg(SQ_HEAD_DIM);
  const G = arg(SQ_GROUPS);
  const N = arg(SQ_N);
  const b = t / H;
  const h = t % H;
  const g = h / (H / G);
  const rowBytes = <usize>N << 2;
  const stateBytes = <usize>P * rowBytes;
  const S = <usize>arg(SQ_LAST) + <usize>t * stateBytes;
  const pH0 = <usize>arg(SQ_H0);
  if (pH0) memory.copy(S, pH0 + <usize>t * stateBytes, stateBytes);
  else memory.fill(S, 0, stateBytes);
  const a = f32x4.splat(load<f32>(<usize>arg(SQ_A) + (<usize>h << 2)));
  const pD = <usize>arg(SQ_D);
  const Dh: f32 = pD ? load<f32>(pD + (<usize>h << 2)) : 0;
  const full = N & ~3;
  const tail = N - full;
  for (let s = 0; s < L; s++) {
    const bt = <usize>b * <usize>L + <usize>s; // (sequence, token)
    const dt = load<f32>(<usize>arg(SQ_DT) + ((bt * <usize>H + <usize>h) << 2));
    const decay = exp4(f32x4.mul(f32x4.splat(dt), a));
    const x = <usize>arg(SQ_X) + ((bt * <usize>H + <usize>h) * <usize>P << 2);
    const out = <usize>arg(SQ_OUT) + ((bt * <usize>H + <usize>h) * <usize>P << 2);
    const gi = (bt * <usize>G + <usize>g) * rowBytes;
    const B = <usize>arg(SQ_B) + gi;
    const C = <usize>arg(SQ_C) + gi;
    let row = S;
    for (let p = 0; p < P; p++) {
      const xp = load<f32>(x + (<usize>p << 2));
      const xdt = f32x4.splat(xp * dt);
      let acc = f32x4.splat(0);
      for (let n = 0; n < full; n += 4) {
        const o = <usize>n << 2;
        const hn = madd(xdt, v128.load(B + o), f32x4.mul(v128.load(row + o), decay));
        v128.store(row + o, hn);
        acc = madd(hn, v128.load(C + o), acc);
      }
      if (tail) {
        const o = <usize>full << 2;
        const hn = madd(xdt, loadLanes(B + o, tail), f32x4.mul(loadLanes(row + o, tail), decay));
        storeLanes(row + o, hn, tail);
        acc = madd(hn, loadLanes(C + o, tail), acc);
      }
      store<f32>(out + (<usize>p << 2), hsum(acc) + Dh * xp);
      row += rowBytes;
    }
  }
}
