/** RMSNorm, embedding lookup and the causal depthwise conv on the CPU. */
import { silu } from './elementwise.js';

/** out[r, :] = x[r, :] * rsqrt(mean(x[r, :]^2) + eps) * w, for rows of length H. */
export function rmsNormKernel(x: Float32Array, w: Float32Array, eps: number, out: Float32Array): void {
  const H = w.length;
  for (let r = 0; r < x.length / H; r++) {
    const o = r * H;
    let ss = 0;
    for (let i = 0; i < H; i++) ss += x[o + i]! * x[o + i]!;
    const inv = 1 / Math.sqrt(ss / H + eps);
    for (let i = 0; i < H; i++) out[o + i] = x[o + i]! * inv * w[i]!;
  }
}

/**
 * RMSNorm's backward, a row at a time: with r = 1/sqrt(mean(x²) + eps) and u = g·w,
 * dx = r·u − x·r³·mean(u·x) and dw = Σ_rows g·x·r (rows in order, summed in float64).
 */
export function rmsNormBackwardKernel(x: Float32Array, w: Float32Array, eps: number, g: Float32Array, dx: Float32Array, dw: Float32Array): void {
  const H = w.length;
  const acc = new Float64Array(H);
  for (let o = 0; o < x.length; o += H) {
    let ss = 0;
    let ux = 0;
    for (let i = 0; i < H; i++) {
      const xi = x[o + i]!;
      ss += xi * xi;
      ux += g[o + i]! * w[i]! * xi;
    }
    const r = 1 / Math.sqrt(ss / H + eps);
    const k = r * r * r * (ux / H);
    for (let i = 0; i < H; i++) {
      const xi = x[o + i]!;
      const gi = g[o + i]!;
      dx[o + i] = r * gi * w[i]! - xi * k;
      acc[i] = acc[i]! + gi * xi * r;
    }
  }
  dw.set(acc);
}

export function embeddingKernel(ids: Int32Array, table: Float32Array, H: number, out: Float32Array): void {
  const V = table.length / H;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    // An id outside the table (unchecked ids a kernel made: a MoE router's -1) leaves a row of zeros.
    if (id >= 0 && id < V) out.set(table.subarray(id * H, (id + 1) * H), i * H);
    else out.fill(0, i * H, (i + 1) * H);
  }
}

/**
 * Depthwise causal conv: out[b,t,d] = bias[d] + Σ_k w[d,k] · xpad[b, t+k, d], where xpad is the
 * K-1 state columns followed by x, so w[d, K-1] multiplies the current token (PyTorch's Conv1d
 * with padding K-1, truncated to L). The new state holds the last K-1 inputs of xpad.
 */
export function causalConv1dKernel(
  x: Float32Array, // (B, L, D)
  w: Float32Array, // (D, K)
  bias: Float32Array | null, // (D)
  state: Float32Array | null, // (B, D, K-1)
  Bsz: number,
  L: number,
  D: number,
  K: number,
  applySilu: boolean,
  out: Float32Array, // (B, L, D)
  newState: Float32Array, // (B, D, K-1)
): void {
  const S = K - 1;
  const win = new Float32Array(S + L);
  for (let b = 0; b < Bsz; b++) {
    for (let d = 0; d < D; d++) {
      // Gather this channel's padded input sequence.
      for (let s = 0; s < S; s++) win[s] = state ? state[(b * D + d) * S + s]! : 0;
      for (let t = 0; t < L; t++) win[S + t] = x[(b * L + t) * D + d]!;
      const bd = bias ? bias[d]! : 0;
      for (let t = 0; t < L; t++) {
        let acc = bd;
        for (let k = 0; k < K; k++) acc += w[d * K + k]! * win[t + k]!;
        out[(b * L + t) * D + d] = applySilu ? silu(acc) : acc;
      }
      for (let s = 0; s < S; s++) newState[(b * D + d) * S + s] = win[L + s]!;
    }
  }
}
