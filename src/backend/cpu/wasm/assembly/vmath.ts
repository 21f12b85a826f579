/**
 * Four-lane float32 math for the scan and conv kernels: exp, softplus and SiLU. Constants are
 * immediates (the build allows no data segment). Every lane runs the same instructions, so a value
 * does not depend on which lane or tile it falls in (the kernels' thread-count invariance needs that).
 */

/** e^x, relative error under 2e-7 for x in [-87.3, 88]; below that it gives about 1e-38, above it e^88. */
@inline export function exp4(x: v128): v128 {
  const xc = f32x4.min(f32x4.max(x, f32x4.splat(-87.33654)), f32x4.splat(88.0));
  // x = n·ln2 + r, |r| ≤ ln2/2, with ln2 split in two so that r is exact enough.
  const n = f32x4.nearest(f32x4.mul(xc, f32x4.splat(1.44269504089)));
  let r = f32x4.sub(xc, f32x4.mul(n, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  // e^r ≈ 1 + r + r²·P(r), P a minimax polynomial of degree 5.
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  p = f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(r, r)), r), f32x4.splat(1.0));
  // 2^n by building the exponent field (n in [-126, 127]).
  const scale = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  return f32x4.mul(p, scale);
}

/** ln(y) for y ≥ 1 (finite): y = 2^k·m with m in [√½, √2), ln m = 2·atanh((m−1)/(m+1)) as a series. */
@inline function logAtLeastOne(y: v128): v128 {
  const bits = y;
  // Exponent and mantissa; mantissas above √2 are halved (exponent + 1) to centre m on 1.
  const mant = v128.and(bits, i32x4.splat(0x007fffff));
  const big = i32x4.gt_s(mant, i32x4.splat(0x003504f3));
  const k = i32x4.add(i32x4.sub(i32x4.shr_u(bits, 23), i32x4.splat(127)), v128.and(big, i32x4.splat(1)));
  const m = v128.or(mant, v128.bitselect(i32x4.splat(0x3f000000), i32x4.splat(0x3f800000), big));
  const f = f32x4.div(f32x4.sub(m, f32x4.splat(1.0)), f32x4.add(m, f32x4.splat(1.0)));
  const s = f32x4.mul(f, f);
  let q = f32x4.splat(0.11111111);
  q = f32x4.add(f32x4.mul(q, s), f32x4.splat(0.14285715));
  q = f32x4.add(f32x4.mul(q, s), f32x4.splat(0.2));
  q = f32x4.add(f32x4.mul(q, s), f32x4.splat(0.33333334));
  q = f32x4.add(f32x4.mul(q, s), f32x4.splat(1.0));
  const lnm = f32x4.mul(f32x4.add(f, f), q);
  const kf = f32x4.convert_i32x4_s(k);
  return f32x4.add(f32x4.mul(kf, f32x4.splat(0.693359375)), f32x4.add(f32x4.mul(kf, f32x4.splat(-2.12194440e-4)), lnm));
}

/**
 * softplus(x) = ln(1 + e^x), and x itself above 20 (as the TypeScript kernels). ln(1 + e) is
 * computed as ln(u)·e/(u − 1) with u = 1 + e rounded (u − 1 is exact), which keeps the relative
 * accuracy of log1p for small e; below e = 2⁻¹⁰ a three-term series replaces it.
 */
@inline export function softplus4(x: v128): v128 {
  const e = exp4(x);
  const u = f32x4.add(f32x4.splat(1.0), e);
  const logBranch = f32x4.mul(logAtLeastOne(u), f32x4.div(e, f32x4.max(f32x4.sub(u, f32x4.splat(1.0)), f32x4.splat(1e-30))));
  // e − e²/2 + e³/3
  const series = f32x4.mul(e, f32x4.sub(f32x4.splat(1.0), f32x4.mul(e, f32x4.sub(f32x4.splat(0.5), f32x4.mul(e, f32x4.splat(0.33333334))))));
  const small = f32x4.lt(e, f32x4.splat(0.0009765625));
  const y = v128.bitselect(series, logBranch, small);
  return v128.bitselect(x, y, f32x4.gt(x, f32x4.splat(20.0)));
}

/** silu(z) = z / (1 + e^−z). */
@inline export function silu4(z: v128): v128 {
  return f32x4.div(z, f32x4.add(f32x4.splat(1.0), exp4(f32x4.neg(z))));
}
