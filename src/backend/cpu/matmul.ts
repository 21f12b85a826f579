/**
 * Matmul on the CPU. The core is C = A · Bᵀ with both operands K-contiguous (the layout of a
 * PyTorch Linear weight, (out, in)), blocked 4×4 so that 16 accumulators stay in registers; other
 * layouts are transposed into that form first.
 */

/** c[m, n] = Σ_k a[m, k] · b[n, k] for row-major a (M, K), b (N, K), c (M, N). */
export function gemmNT(
  a: Float32Array,
  aOff: number,
  b: Float32Array,
  bOff: number,
  c: Float32Array,
  cOff: number,
  M: number,
  N: number,
  K: number,
): void {
  let m = 0;
  for (; m + 4 <= M; m += 4) {
    const a0 = aOff + m * K;
    const a1 = a0 + K;
    const a2 = a1 + K;
    const a3 = a2 + K;
    let n = 0;
    for (; n + 4 <= N; n += 4) {
      const b0 = bOff + n * K;
      const b1 = b0 + K;
      const b2 = b1 + K;
      const b3 = b2 + K;
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
      let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
      let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      for (let k = 0; k < K; k++) {
        const x0 = a[a0 + k]!, x1 = a[a1 + k]!, x2 = a[a2 + k]!, x3 = a[a3 + k]!;
        const y0 = b[b0 + k]!, y1 = b[b1 + k]!, y2 = b[b2 + k]!, y3 = b[b3 + k]!;
        c00 += x0 * y0; c01 += x0 * y1; c02 += x0 * y2; c03 += x0 * y3;
        c10 += x1 * y0; c11 += x1 * y1; c12 += x1 * y2; c13 += x1 * y3;
        c20 += x2 * y0; c21 += x2 * y1; c22 += x2 * y2; c23 += x2 * y3;
        c30 += x3 * y0; c31 += x3 * y1; c32 += x3 * y2; c33 += x3 * y3;
      }
      const r0 = cOff + m * N + n;
      const r1 = r0 + N;
      const r2 = r1 + N;
      const r3 = r2 + N;
      c[r0] = c00; c[r0 + 1] = c01; c[r0 + 2] = c02; c[r0 + 3] = c03;
      c[r1] = c10; c[r1 + 1] = c11; c[r1 + 2] = c12; c[r1 + 3] = c13;
      c[r2] = c20; c[r2 + 1] = c21; c[r2 + 2] = c22; c[r2 + 3] = c23;
      c[r3] = c30; c[r3 + 1] = c31; c[r3 + 2] = c32; c[r3 + 3] = c33;
    }
    for (; n < N; n++) {
      const b0 = bOff + n * K;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let k = 0; k < K; k++) {
        const y = b[b0 + k]!;
        s0 += a[a0 + k]! * y; s1 += a[a1 + k]! * y; s2 += a[a2 + k]! * y; s3 += a[a3 + k]! * y;
      }
      c[cOff + m * N + n] = s0;
      c[cOff + (m + 1) * N + n] = s1;
      c[cOff + (m + 2) * N + n] = s2;
      c[cOff + (m + 3) * N + n] = s3;
    }
  }
  // Leftover rows (and the whole of batch-1 decoding): 4 dot products at a time.
  for (; m < M; m++) {
    const a0 = aOff + m * K;
    let n = 0;
    for (; n + 4 <= N; n += 4) {
      const b0 = bOff + n * K;
      const b1 = b0 + K;
      const b2 = b1 + K;
      const b3 = b2 + K;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let k = 0; k < K; k++) {
        const x = a[a0 + k]!;
        s0 += x * b[b0 + k]!; s1 += x * b[b1 + k]!; s2 += x * b[b2 + k]!; s3 += x * b[b3 + k]!;
      }
      const r = cOff + m * N + n;
      c[r] = s0; c[r + 1] = s1; c[r + 2] = s2; c[r + 3] = s3;
    }
    for (; n < N; n++) {
      const b0 = bOff + n * K;
      let s = 0;
      for (let k = 0; k < K; k++) s += a[a0 + k]! * b[b0 + k]!;
      c[cOff + m * N + n] = s;
    }
  }
}

/** Transposes the last two axes of one (R, C) matrix into `out` (C, R). */
export function transpose2d(x: Float32Array, off: number, R: number, C: number, out: Float32Array): void {
  for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) out[c * R + r] = x[off + r * C + c]!;
}
