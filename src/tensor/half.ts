/** Half-precision (bfloat16, float16) bit conversions to and from float32. */


/** float32 -> bfloat16 bits, round to nearest even; NaN stays NaN (quiet), inf stays inf. */
export function f32ToBf16(x: Float32Array): Uint16Array {
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const b = bits[i]!;
    if ((b & 0x7fffffff) > 0x7f800000) {
      // Rounding could carry a NaN's mantissa into the exponent; set the quiet bit instead.
      out[i] = (b >>> 16) | 0x40;
    } else {
      out[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
    }
  }
  return out;
}

/** bfloat16 bits -> float32 (exact: the bits are the top half of a float32). */
export function bf16ToF32(x: Uint16Array): Float32Array {
  const out = new Float32Array(x.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < x.length; i++) bits[i] = x[i]! << 16;
  return out;
}

/** float32 bits -> float16 bits, round to nearest even, with subnormals, overflow to inf, NaN kept. */
function f32BitsToF16(b: number): number {
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15; // the f16 biased exponent
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // f16 subnormal: value = h * 2^-24. Below half the smallest subnormal everything rounds to zero.
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const rest = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    let h = mant >>> shift;
    if (rest > half || (rest === half && (h & 1) !== 0)) h++;
    return sign | h; // a carry into bit 10 correctly yields the smallest normal
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) !== 0)) h++; // a carry may reach inf, which is right
  return sign | h;
}

/** float32 -> float16 bits, round to nearest even. */
export function f32ToF16(x: Float32Array): Uint16Array {
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = f32BitsToF16(bits[i]!);
  return out;
}

function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0;
  if (exp === 0) {
    if (mant === 0) return sign >>> 0;
    // Subnormal: normalize so that the f32 (which has a wider exponent) represents it as a normal.
    let e = -14;
    while ((mant & 0x400) === 0) {
      mant <<= 1;
      e--;
    }
    return (sign | ((e + 127) << 23) | ((mant & 0x3ff) << 13)) >>> 0;
  }
  return (sign | ((exp - 15 + 127) << 23) | (mant << 13)) >>> 0;
}

/** All 65536 conversions, built on first use (256 KB): F16 checkpoints convert millions of values. */
let f16Table: Uint32Array | undefined;
function f16ToF32Table(): Uint32Array {
  if (f16Table === undefined) {
    f16Table = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToF32Bits(h);
  }
  return f16Table;
}

/** float16 bits -> float32 (exact). */
export function f16ToF32(x: Uint16Array): Float32Array {
  const table = f16ToF32Table();
  const out = new Float32Array(x.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < x.length; i++) bits[i] = table[x[i]!]!;
  return out;
}

/** Widens `count` bf16/f16 values from bits[from …] into out[at …] (float32, exact). */
export function widenHalfInto(dtype: 'bf16' | 'f16', bits: Uint16Array, from: number, count: number, out: Float32Array, at: number): void {
  const dst = new Uint32Array(out.buffer, out.byteOffset + at * 4, count);
  if (dtype === 'bf16') {
    for (let i = 0; i < count; i++) dst[i] = bits[from + i]! << 16;
    return;
  }
  const table = f16ToF32Table();
  for (let i = 0; i < count; i++) dst[i] = table[bits[from + i]!]!;
}
