/**
 * The chunked selective scan: the algorithm the parallel (WebGPU, multi-threaded) scans use,
 * written plainly so that it can be checked against scan-reference.ts.
 *
 * The recurrence h[t] = ā[t]·h[t-1] + b̄[t] is linear in h, so L splits into chunks that are
 * scanned independently from a zero state and then stitched together:
 *   1. per chunk (in parallel): the local states from h = 0, the partial output
 *      y_loc[t] = Σ_n C[t,n]·h_loc[t,n] + D·u[t], the chunk's end state, and the running sum of Δ;
 *      the decay from the chunk start to t is P[t,n] = Π ā = exp(A[n] · Σ_{s≤t} Δ[s]).
 *   2. across chunks (sequential, one step per chunk): the state entering chunk c+1 is
 *      carry[c+1] = P_end[c] · carry[c] + h_end[c].
 *   3. per chunk (in parallel): y[t] = y_loc[t] + Σ_n C[t,n] · P[t,n] · carry[c][n], then the gate.
 * Only the chunk-boundary states exist outside the chunk, which is what the fused GPU kernel keeps
 * for the backward pass.
 */
import { silu } from './elementwise.js';
import { discretizedDelta, type ScanArrays, type ScanDims } from './scan-reference.js';

export function selectiveScanChunked(
  a: ScanArrays,
  dims: ScanDims,
  deltaSoftplus: boolean,
  out: Float32Array,
  lastState: Float32Array,
  chunk = 64,
): void {
  const { batch, L, D, N } = dims;
  const nChunks = Math.max(1, Math.ceil(L / chunk));
  const cumDelta = new Float64Array(L); // Σ Δ since the chunk start, per t
  const hEnd = new Float64Array(nChunks * N);
  const carry = new Float64Array((nChunks + 1) * N);
  const h = new Float64Array(N);
  for (let b = 0; b < batch; b++) {
    for (let d = 0; d < D; d++) {
      // Phase 1: each chunk from a zero state.
      for (let c = 0; c < nChunks; c++) {
        h.fill(0);
        let sum = 0;
        for (let t = c * chunk; t < Math.min(L, (c + 1) * chunk); t++) {
          const i = (b * L + t) * D + d;
          const dt = discretizedDelta(a, i, d, deltaSoftplus);
          const u = a.u[i]!;
          sum += dt;
          cumDelta[t] = sum;
          const bc = (b * L + t) * N;
          let y = 0;
          for (let n = 0; n < N; n++) {
            h[n] = Math.exp(dt * a.A[d * N + n]!) * h[n]! + dt * a.B[bc + n]! * u;
            y += a.C[bc + n]! * h[n]!;
          }
          out[i] = a.D ? y + a.D[d]! * u : y;
        }
        hEnd.set(h, c * N);
      }
      // Phase 2: stitch the chunks.
      for (let n = 0; n < N; n++) carry[n] = a.initialState ? a.initialState[(b * D + d) * N + n]! : 0;
      for (let c = 0; c < nChunks; c++) {
        const tEnd = Math.min(L, (c + 1) * chunk) - 1;
        const total = L > 0 ? cumDelta[tEnd]! : 0;
        for (let n = 0; n < N; n++) {
          carry[(c + 1) * N + n] = Math.exp(a.A[d * N + n]! * total) * carry[c * N + n]! + hEnd[c * N + n]!;
        }
      }
      // Phase 3: add each chunk's incoming state to its outputs, then gate.
      for (let c = 0; c < nChunks; c++) {
        for (let t = c * chunk; t < Math.min(L, (c + 1) * chunk); t++) {
          const i = (b * L + t) * D + d;
          const bc = (b * L + t) * N;
          let y = out[i]!;
          for (let n = 0; n < N; n++) {
            y += a.C[bc + n]! * Math.exp(a.A[d * N + n]! * cumDelta[t]!) * carry[c * N + n]!;
          }
          out[i] = a.z ? y * silu(a.z[i]!) : y;
        }
      }
      for (let n = 0; n < N; n++) lastState[(b * D + d) * N + n] = carry[nChunks * N + n]!;
    }
  }
}
