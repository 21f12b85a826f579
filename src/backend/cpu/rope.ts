/**
 * Rotary position embedding on the CPU (the contract is in ops/rope.ts). The reference for the
 * WebGPU kernel: angles are the float32 products position · invFreq[i] (as HF computes them, in
 * float32), their cosine and sine taken in float64.
 */

/**
 * out = x·cos + rotate_half(x)·sin per head: with half = hd / 2 and θ = fround(positions[row] · invFreq[i]),
 *   out[i]        = x[i]·cos θ − x[half + i]·sin θ
 *   out[half + i] = x[half + i]·cos θ + x[i]·sin θ
 * over x (rows, heads, hd) with rows = B·L; `inverse` rotates by −θ (the transpose, for the backward).
 */
export function ropeKernel(x: Float32Array, positions: Int32Array, invFreq: Float32Array, heads: number, inverse: boolean, out: Float32Array): void {
  const half = invFreq.length;
  const hd = 2 * half;
  const cos = new Float64Array(half);
  const sin = new Float64Array(half);
  for (let r = 0; r < positions.length; r++) {
    const p = positions[r]!;
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(p * invFreq[i]!);
      cos[i] = Math.cos(angle);
      sin[i] = inverse ? -Math.sin(angle) : Math.sin(angle);
    }
    for (let h = 0; h < heads; h++) {
      const o = (r * heads + h) * hd;
      for (let i = 0; i < half; i++) {
        const x1 = x[o + i]!;
        const x2 = x[o + half + i]!;
        out[o + i] = x1 * cos[i]! - x2 * sin[i]!;
        out[o + half + i] = x2 * cos[i]! + x1 * sin[i]!;
      }
    }
  }
}
