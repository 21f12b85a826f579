/**
 * Weight element types as generic markers, so that one kernel source serves all three and the
 * compiler folds the choice away: f32 (float32 values), u16 (bfloat16 bits) and i16 (float16
 * bits; the sign of the marker type carries no meaning).
 */
import { bf16High, bf16Low, bf16Scalar, f16High, f16Low, f16Scalar } from './simd';

/** Weight element `i` (counted from `p`) as float32. */
@inline export function weightAt<T>(p: usize, i: usize): f32 {
  if (isFloat<T>()) return load<f32>(p + (i << 2));
  const h = <u32>load<u16>(p + (i << 1));
  return isSigned<T>() ? f16Scalar(h) : bf16Scalar(h);
}

/** Weight elements i … i+3 (counted from `p`) as four float32 lanes. */
@inline export function weights4<T>(p: usize, i: usize): v128 {
  if (isFloat<T>()) return v128.load(p + (i << 2));
  const h = v128.load64_zero(p + (i << 1));
  return isSigned<T>() ? f16Low(h) : bf16Low(h);
}

/** Eight weight elements from i: the first four (lo) … */
@inline export function weights8Low<T>(h: v128): v128 {
  return isSigned<T>() ? f16Low(h) : bf16Low(h);
}

/** … and the last four (hi), from one 16-byte load of eight halves. */
@inline export function weights8High<T>(h: v128): v128 {
  return isSigned<T>() ? f16High(h) : bf16High(h);
}
