/**
 * The selective scan, written the slow and obvious way: a loop over t per (batch, channel). This is
 * the definition every faster scan (chunked, WebGPU) is tested against. It follows
 * mamba_ssm's selective_scan_ref, with the code's discretisation (Ā = exp(Δ·A), B̄·u = Δ·B·u):
 *
 *   Δ[t,d]   = softplus(δ[t,d] + bias[d])
 *   h[t,d,n] = exp(Δ[t,d]·A[d,n]) · h[t-1,d,n] + Δ[t,d] · B[t,n] · u[t,d]
 *   y[t,d]   = Σ_n C[t,n] · h[t,d,n] + D[d] · u[t,d]
 *   out      = y · silu(z)
 *
 * Layout is channels-last: u, δ, z (B, L, D); B, C (B, L, N); A (D, N); states (B, D, N).
 */
import { silu, softplus } from './elementwise.js';

export interface ScanArrays {
  u: Float32Array;
  delta: Float32Array;
  A: Float32Array;
  B: Float32Array;
  C: Float32Array;
  D: Float32Array | null;
  z: Float32Array | null;
  deltaBias: Float32Array | null;
  initialState: Float32Array | null;
}

export interface ScanDims {
  batch: number;
  L: number;
  D: number;
  N: number;
}

/** Δ after bias and (optionally) softplus. */
export function discretizedDelta(a: ScanArrays, i: number, d: number, softplusOn: boolean): number {
  const v = a.delta[i]! + (a.deltaBias ? a.deltaBias[d]! : 0);
  return softplusOn ? softplus(v) : v;
}

export function selectiveScanSequential(
  a: ScanArrays,
  dims: ScanDims,
  deltaSoftplus: boolean,
  out: Float32Array, // (B, L, D)
  lastState: Float32Array, // (B, D, N)
): void {
  const { batch, L, D, N } = dims;
  const h = new Float64Array(N); // f64 accumulators: this is the reference
  for (let b = 0; b < batch; b++) {
    for (let d = 0; d < D; d++) {
      for (let n = 0; n < N; n++) h[n] = a.initialState ? a.initialState[(b * D + d) * N + n]! : 0;
      for (let t = 0; t < L; t++) {
        const i = (b * L + t) * D + d;
        const dt = discretizedDelta(a, i, d, deltaSoftplus);
        const u = a.u[i]!;
        const bc = (b * L + t) * N;
        let y = 0;
        for (let n = 0; n < N; n++) {
          h[n] = Math.exp(dt * a.A[d * N + n]!) * h[n]! + dt * a.B[bc + n]! * u;
          y += a.C[bc + n]! * h[n]!;
        }
        if (a.D) y += a.D[d]! * u;
        if (a.z) y *= silu(a.z[i]!);
        out[i] = y;
      }
      for (let n = 0; n < N; n++) lastState[(b * D + d) * N + n] = h[n]!;
    }
  }
}
