/**
 * Mamba-2's recurrent state update for one decode step (../../mamba2-step.ts states it), in place:
 *
 *   S[r, h, p, :] = S[r, h, p, :] · decay[r, h] + (x[r, h, p] · Δ[r, h]) · B[r, g(h), :]
 *
 * A tile is one (row, head): head dim × N states, four states per vector. Each product and the
 * sum are rounded to float32 separately (no fused multiply-add, even in the relaxed-SIMD build), so
 * the result equals the op-by-op step's elementwise ops bit for bit and does not depend on the
 * number of threads.
 */
import { SS_B_OFFSET, SS_DECAY, SS_DT, SS_HEAD_DIM, SS_HEADS, SS_HEADS_PER_GROUP, SS_N, SS_ROW_STRIDE, SS_STATE, SS_XB } from '../layout';
import { arg } from './control';
import { loadLanes, storeLanes } from './lanes';

/** Runs tile `t` (row t / heads, head t % heads) of the posted K_SSD_STEP job. */
export function ssdStepTile(t: i32): void {
  const NH = arg(SS_HEADS);
  const P = arg(SS_HEAD_DIM);
  const N = arg(SS_N);
  const r = t / NH;
  const hh = t % NH;
  const ti = <usize>t << 2; // (row, head) index into Δ and decay, in bytes
  const dt = load<f32>(<usize>arg(SS_DT) + ti);
  const decay = f32x4.splat(load<f32>(<usize>arg(SS_DECAY) + ti));
  const row = <usize>arg(SS_XB) + (<usize>r * <usize>arg(SS_ROW_STRIDE) << 2);
  const x = row + (<usize>hh * <usize>P << 2);
  const B = row + ((<usize>arg(SS_B_OFFSET) + <usize>(hh / arg(SS_HEADS_PER_GROUP)) * <usize>N) << 2);
  const rowBytes = <usize>N << 2;
  let s = <usize>arg(SS_STATE) + <usize>t * <usize>P * rowBytes;
  const full = N & ~3;
  for (let p = 0; p < P; p++) {
    const xdt = f32x4.splat(load<f32>(x + (<usize>p << 2)) * dt);
    let n = 0;
    for (; n < full; n += 4) {
      const o = <usize>n << 2;
      v128.store(s + o, f32x4.add(f32x4.mul(v128.load(s + o), decay), f32x4.mul(xdt, v128.load(B + o))));
    }
    if (n < N) {
      const o = <usize>n << 2;
      const valid = N - n;
      storeLanes(s + o, f32x4.add(f32x4.mul(loadLanes(s + o, valid), decay), f32x4.mul(xdt, loadLanes(B + o, valid))), valid);
    }
    s += rowBytes;
  }
}
