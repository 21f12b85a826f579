/**
 * The selective scan's backward pass, the plain way (the reference the fused GPU backward will be
 * tested against). Per (batch, channel) the forward states are recomputed and kept for the
 * sequence (L × N here; a fused kernel keeps only chunk boundaries), then one reverse sweep:
 *
 *   out_t = y_t · silu(z_t),  y_t = Σ_n C_tn h_tn + D u_t,  h_t = a_t ⊙ h_{t−1} + Δ_t B_t u_t,
 *   a_tn = exp(Δ_t A_n),      Δ_t = softplus(δ_t + bias)
 *
 *   dy = g · silu(z)                 dz = g · y · silu'(z)
 *   dC_tn = dy_t h_tn                dh_t += dy_t C_t          dD += dy_t u_t      du_t = dy_t D
 *   reverse over t:  dΔ_t = Σ_n dh_tn (a_tn A_n h_{t−1,n} + B_tn u_t),  dA_n += Σ_t dh_tn a_tn Δ_t h_{t−1,n}
 *                    dB_tn = dh_tn Δ_t u_t,  du_t += Σ_n dh_tn Δ_t B_tn,  dh_{t−1} = dh_t ⊙ a_t
 *   dδ = dΔ · sigmoid(δ + bias) (with softplus),  dbias = Σ dδ,  dh0 = dh_{−1}
 * dLast (the gradient of the returned last state) seeds dh_{L−1}.
 */
import { sigmoid, silu } from './elementwise.js';
import { discretizedDelta, type ScanArrays, type ScanDims } from './scan-reference.js';

export interface ScanGrads {
  du: Float32Array;
  ddelta: Float32Array;
  dA: Float32Array;
  dB: Float32Array;
  dC: Float32Array;
  dD: Float32Array;
  dz: Float32Array;
  dbias: Float32Array;
  dh0: Float32Array;
}

export function selectiveScanBackward(
  a: ScanArrays,
  dims: ScanDims,
  deltaSoftplus: boolean,
  gOut: Float32Array, // (B, L, D)
  gLast: Float32Array | null, // (B, D, N)
): ScanGrads {
  const { batch, L, D, N } = dims;
  const g: ScanGrads = {
    du: new Float32Array(batch * L * D),
    ddelta: new Float32Array(batch * L * D),
    dA: new Float32Array(D * N),
    dB: new Float32Array(batch * L * N),
    dC: new Float32Array(batch * L * N),
    dD: new Float32Array(D),
    dz: new Float32Array(batch * L * D),
    dbias: new Float32Array(D),
    dh0: new Float32Array(batch * D * N),
  };
  const hs = new Float64Array((L + 1) * N); // hs[t+1] = h_t, hs[0] = h0
  const decays = new Float64Array(L * N); // exp(Δ_t A_n), kept from the forward for the reverse sweep
  const dts = new Float64Array(L);
  const dh = new Float64Array(N);
  const dA = new Float64Array(D * N);
  for (let b = 0; b < batch; b++) {
    for (let d = 0; d < D; d++) {
      // Forward, keeping the states.
      for (let n = 0; n < N; n++) hs[n] = a.initialState ? a.initialState[(b * D + d) * N + n]! : 0;
      for (let t = 0; t < L; t++) {
        const i = (b * L + t) * D + d;
        const dt = discretizedDelta(a, i, d, deltaSoftplus);
        dts[t] = dt;
        const bc = (b * L + t) * N;
        for (let n = 0; n < N; n++) {
          const decay = Math.exp(dt * a.A[d * N + n]!);
          decays[t * N + n] = decay;
          hs[(t + 1) * N + n] = decay * hs[t * N + n]! + dt * a.B[bc + n]! * a.u[i]!;
        }
      }
      // Reverse sweep.
      for (let n = 0; n < N; n++) dh[n] = gLast ? gLast[(b * D + d) * N + n]! : 0;
      for (let t = L - 1; t >= 0; t--) {
        const i = (b * L + t) * D + d;
        const bc = (b * L + t) * N;
        const u = a.u[i]!;
        const dt = dts[t]!;
        let y = a.D ? a.D[d]! * u : 0;
        for (let n = 0; n < N; n++) y += a.C[bc + n]! * hs[(t + 1) * N + n]!;
        let dy = gOut[i]!;
        if (a.z) {
          const zv = a.z[i]!;
          const s = sigmoid(zv);
          g.dz[i] = dy * y * (s + zv * s * (1 - s));
          dy *= silu(zv);
        }
        if (a.D) g.dD[d] = g.dD[d]! + dy * u;
        let du = a.D ? dy * a.D[d]! : 0;
        let ddt = 0;
        for (let n = 0; n < N; n++) {
          const hPrev = hs[t * N + n]!;
          g.dC[bc + n] = g.dC[bc + n]! + dy * hs[(t + 1) * N + n]!;
          const dhn = dh[n]! + dy * a.C[bc + n]!;
          const An = a.A[d * N + n]!;
          const decay = decays[t * N + n]!;
          ddt += dhn * (decay * An * hPrev + a.B[bc + n]! * u);
          dA[d * N + n] = dA[d * N + n]! + dhn * decay * dt * hPrev;
          g.dB[bc + n] = g.dB[bc + n]! + dhn * dt * u;
          du += dhn * dt * a.B[bc + n]!;
          dh[n] = dhn * decay;
        }
        g.du[i] = du;
        const pre = a.delta[i]! + (a.deltaBias ? a.deltaBias[d]! : 0);
        const dpre = deltaSoftplus ? ddt * sigmoid(pre) : ddt;
        g.ddelta[i] = dpre;
        g.dbias[d] = g.dbias[d]! + dpre;
      }
      for (let n = 0; n < N; n++) g.dh0[(b * D + d) * N + n] = dh[n]!;
    }
  }
  g.dA.set(dA);
  return g;
}
