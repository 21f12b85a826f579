/**
 * SIMD helpers shared by the kernels: the multiply-add (fused where the relaxed-SIMD build runs
 * on hardware with FMA), and widening of packed 16-bit weights to float32 inside registers.
 */

/** a · b + c, four lanes. The relaxed build may fuse it (one rounding); the plain build rounds twice. */
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** The sum of the four lanes, in the fixed order (l0 + l2) + (l1 + l3). */
@inline export function hsum(v: v128): f32 {
  const s = f32x4.add(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1);
}

/** bf16 bits in lanes 0–3 of `h` (eight halves) → four float32s: each half becomes a float's top. */
@inline export function bf16Low(h: v128): v128 {
  return i16x8.shuffle(i16x8.splat(0), h, 0, 8, 1, 9, 2, 10, 3, 11);
}

/** bf16 bits in lanes 4–7 of `h` → four float32s. */
@inline export function bf16High(h: v128): v128 {
  return i16x8.shuffle(i16x8.splat(0), h, 4, 12, 5, 13, 6, 14, 7, 15);
}

/**
 * f16 bits, one per 32-bit lane (zero-extended) → float32, exactly for every value: the exponent
 * and mantissa are moved into float32 position and rescaled by 2^112 (which also turns f16
 * subnormals into float32 normals); infinities and NaNs get the float32 all-ones exponent.
 */
@inline export function f16Lanes(h: v128): v128 {
  const magnitude = f32x4.mul(i32x4.shl(v128.and(h, i32x4.splat(0x7fff)), 13), i32x4.splat(0x77800000));
  const infNan = v128.and(i32x4.eq(v128.and(h, i32x4.splat(0x7c00)), i32x4.splat(0x7c00)), i32x4.splat(0x7f800000));
  const sign = i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16);
  return v128.or(v128.or(magnitude, infNan), sign);
}

/** f16 bits in lanes 0–3 of `h` (eight halves) → four float32s. */
@inline export function f16Low(h: v128): v128 {
  return f16Lanes(i32x4.extend_low_i16x8_u(h));
}

/** f16 bits in lanes 4–7 of `h` → four float32s. */
@inline export function f16High(h: v128): v128 {
  return f16Lanes(i32x4.extend_high_i16x8_u(h));
}

/**
 * Eight packed halves `h` (k = 0 … 7) split by parity without moving them across lanes: the even
 * ones (k = 0, 2, 4, 6) sit in the low half of each 32-bit lane, the odd ones in the high half.
 * Cheaper than interleaving, so gemv pairs them with x split the same way (x evens, x odds).
 */
@inline export function bf16Even(h: v128): v128 {
  return i32x4.shl(h, 16);
}
@inline export function bf16Odd(h: v128): v128 {
  return v128.and(h, i32x4.splat(0xffff0000));
}
@inline export function f16Even(h: v128): v128 {
  return f16Lanes(v128.and(h, i32x4.splat(0xffff)));
}
@inline export function f16Odd(h: v128): v128 {
  return f16Lanes(i32x4.shr_u(h, 16));
}

/** Lanes 0, 2, 4, 6 of the eight float32s in (lo, hi). */
@inline export function evenLanes(lo: v128, hi: v128): v128 {
  return i32x4.shuffle(lo, hi, 0, 2, 4, 6);
}
/** Lanes 1, 3, 5, 7 of the eight float32s in (lo, hi). */
@inline export function oddLanes(lo: v128, hi: v128): v128 {
  return i32x4.shuffle(lo, hi, 1, 3, 5, 7);
}

/** One bf16 value (bits) → float32. */
@inline export function bf16Scalar(h: u32): f32 {
  return reinterpret<f32>(h << 16);
}

/** One f16 value (bits) → float32 (the scalar form of f16Lanes). */
@inline export function f16Scalar(h: u32): f32 {
  const magnitude = reinterpret<f32>((h & 0x7fff) << 13) * reinterpret<f32>(<u32>0x77800000);
  let bits = reinterpret<u32>(magnitude);
  if ((h & 0x7c00) == 0x7c00) bits |= 0x7f800000;
  return reinterpret<f32>(bits | ((h & 0x8000) << 16));
}
