/**
 * Four adjacent channels as one vector, for the channel-vectorised kernels (scan.ts, conv.ts): a
 * full group is one 16-byte access; the last group of a row whose channel count is not a multiple
 * of 4 moves only its `valid` lanes (the others read as 0 and are never written). Both forms feed
 * the same arithmetic, so a channel's result does not depend on the group it falls in.
 */

/** Floats p[0 … valid−1] (valid ≥ 1) as lanes, the rest 0. */
@inline export function loadLanes(p: usize, valid: i32): v128 {
  if (valid >= 4) return v128.load(p);
  let v = f32x4.replace_lane(f32x4.splat(0), 0, load<f32>(p));
  if (valid > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (valid > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  return v;
}

/** Lanes 0 … valid−1 of v into p[0 … valid−1]. */
@inline export function storeLanes(p: usize, v: v128, valid: i32): void {
  if (valid >= 4) {
    v128.store(p, v);
    return;
  }
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (valid > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (valid > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

/** Four channels' values spaced `stride` bytes apart (e.g. one column of (channels, N)), the rest 0. */
@inline export function gatherLanes(p: usize, stride: usize, valid: i32): v128 {
  let v = f32x4.replace_lane(f32x4.splat(0), 0, load<f32>(p));
  if (valid > 1) v = f32x4.replace_lane(v, 1, load<f32>(p + stride));
  if (valid > 2) v = f32x4.replace_lane(v, 2, load<f32>(p + 2 * stride));
  if (valid > 3) v = f32x4.replace_lane(v, 3, load<f32>(p + 3 * stride));
  return v;
}

/** Lanes 0 … valid−1 of v to addresses `stride` bytes apart. */
@inline export function scatterLanes(p: usize, stride: usize, v: v128, valid: i32): void {
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (valid > 1) store<f32>(p + stride, f32x4.extract_lane(v, 1));
  if (valid > 2) store<f32>(p + 2 * stride, f32x4.extract_lane(v, 2));
  if (valid > 3) store<f32>(p + 3 * stride, f32x4.extract_lane(v, 3));
}
