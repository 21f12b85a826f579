/**
 * AdamW in place over float32 p, m, v from g (the arithmetic of ../../optim.ts's adamwKernel):
 * every intermediate in double precision and rounded to float32 where the one-op-per-term update
 * stores one, so it gives the same bits as both. Two lanes of float64 at a time.
 */
import { AW_G, AW_LENGTH, AW_M, AW_P, AW_SCALARS, AW_TILE, AW_V, W_ARGS } from '../layout';
import { arg, word } from './control';

@inline function ptr(i: i32): usize {
  return <usize><u32>arg(i);
}
@inline function scalar(i: i32): f64 {
  return load<f64>(word(W_ARGS + AW_SCALARS + 2 * i));
}
@inline function d(x: f64): v128 {
  return f64x2.splat(x);
}
/** Rounded to float32 and back. */
@inline function fr(x: v128): v128 {
  return f64x2.promote_low_f32x4(f32x4.demote_f64x2_zero(x));
}
/** Four float32s at p + 4i as two float64 pairs: lanes 0–1 and 2–3. */
@inline function lo(p: usize, i: i32): v128 {
  return f64x2.promote_low_f32x4(v128.load64_zero(p + (<usize>i << 2)));
}
@inline function hi(p: usize, i: i32): v128 {
  return f64x2.promote_low_f32x4(v128.load64_zero(p + (<usize>i << 2), 8));
}
@inline function store4(p: usize, i: i32, a: v128, b: v128): void {
  v128.store(p + (<usize>i << 2), i32x4.shuffle(f32x4.demote_f64x2_zero(a), f32x4.demote_f64x2_zero(b), 0, 1, 4, 5));
}

// `+ 0` is the composite update's affine a·x + b with b = 0 (it turns −0 into +0).
@inline function mNext(m: v128, g: v128, b1: f64): v128 {
  return fr(f64x2.add(fr(f64x2.add(f64x2.mul(d(b1), m), d(0))), fr(f64x2.add(f64x2.mul(d(1 - b1), g), d(0)))));
}
@inline function vNext(v: v128, g: v128, b2: f64): v128 {
  return fr(f64x2.add(fr(f64x2.add(f64x2.mul(d(b2), v), d(0))), fr(f64x2.add(f64x2.mul(d(1 - b2), fr(f64x2.mul(g, g))), d(0)))));
}
@inline function pNext(p: v128, m: v128, v: v128, lr: f64, eps: f64, ic1: f64, ic2: f64, df: f64): v128 {
  const den = fr(f64x2.add(fr(f64x2.sqrt(fr(f64x2.add(f64x2.mul(v, d(ic2)), d(0))))), d(eps)));
  const dir = fr(f64x2.div(fr(f64x2.add(f64x2.mul(m, d(ic1)), d(0))), den));
  const decayed = df != 1 ? fr(f64x2.add(f64x2.mul(d(df), p), d(0))) : p;
  return f64x2.sub(decayed, fr(f64x2.add(f64x2.mul(d(lr), dir), d(0))));
}

export function adamwTile(tile: i32): void {
  const n = arg(AW_LENGTH);
  const per = arg(AW_TILE);
  const start = tile * per;
  const end = min(n, start + per);
  const p = ptr(AW_P), g = ptr(AW_G), m = ptr(AW_M), v = ptr(AW_V);
  const lr = scalar(0), b1 = scalar(1), b2 = scalar(2), eps = scalar(3), ic1 = scalar(4), ic2 = scalar(5), df = scalar(6);
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const g0 = lo(g, i), g1 = hi(g, i);
    const m0 = mNext(lo(m, i), g0, b1), m1 = mNext(hi(m, i), g1, b1);
    const v0 = vNext(lo(v, i), g0, b2), v1 = vNext(hi(v, i), g1, b2);
    store4(p, i, pNext(lo(p, i), m0, v0, lr, eps, ic1, ic2, df), pNext(hi(p, i), m1, v1, lr, eps, ic1, ic2, df));
    store4(m, i, m0, m1);
    store4(v, i, v0, v1);
  }
  // The last n mod 4 (lane 0 of each pair).
  for (; i < end; i++) {
    const at = <usize>i << 2;
    const gi = f64x2.splat(<f64>load<f32>(g + at));
    const mi = mNext(f64x2.splat(<f64>load<f32>(m + at)), gi, b1);
    const vi = vNext(f64x2.splat(<f64>load<f32>(v + at)), gi, b2);
    const pi = pNext(f64x2.splat(<f64>load<f32>(p + at)), mi, vi, lr, eps, ic1, ic2, df);
    store<f32>(p + at, <f32>f64x2.extract_lane(pi, 0));
    store<f32>(m + at, <f32>f64x2.extract_lane(mi, 0));
    store<f32>(v + at, <f32>f64x2.extract_lane(vi, 0));
  }
}
