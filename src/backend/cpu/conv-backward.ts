/**
 * Backward of the depthwise causal conv (layers.ts): with xpad = state ++ x and
 * pre[b,t,d] = bias[d] + Σ_k w[d,k]·xpad[b,t+k,d], out = silu(pre) (or pre), new state = xpad[L..]:
 *   dpre = g · silu'(pre);  dw[d,k] = Σ dpre[b,t,d]·xpad[b,t+k,d];  dbias[d] = Σ dpre[b,t,d]
 *   dxpad[b,t+k,d] += dpre[b,t,d]·w[d,k];  dxpad[b,L+s,d] += gState[b,d,s]
 *   dx = dxpad[b, K-1.., d],  dstate = dxpad[b, ..K-1, d]
 */
import { sigmoid } from './elementwise.js';

export function causalConv1dBackwardKernel(
  x: Float32Array, // (B, L, D)
  w: Float32Array, // (D, K)
  bias: Float32Array | null,
  state: Float32Array | null, // (B, D, K-1)
  Bsz: number,
  L: number,
  D: number,
  K: number,
  applySilu: boolean,
  gOut: Float32Array, // (B, L, D)
  gState: Float32Array | null, // (B, D, K-1)
): { dx: Float32Array; dw: Float32Array; dbias: Float32Array; dstate: Float32Array } {
  const S = K - 1;
  const dx = new Float32Array(Bsz * L * D);
  const dw = new Float32Array(D * K);
  const dbias = new Float32Array(D);
  const dstate = new Float32Array(Bsz * D * S);
  const win = new Float64Array(S + L);
  const dwin = new Float64Array(S + L);
  for (let b = 0; b < Bsz; b++) {
    for (let d = 0; d < D; d++) {
      for (let s = 0; s < S; s++) win[s] = state ? state[(b * D + d) * S + s]! : 0;
      for (let t = 0; t < L; t++) win[S + t] = x[(b * L + t) * D + d]!;
      dwin.fill(0);
      for (let s = 0; s < S; s++) if (gState) dwin[L + s] = dwin[L + s]! + gState[(b * D + d) * S + s]!;
      for (let t = 0; t < L; t++) {
        let pre = bias ? bias[d]! : 0;
        for (let k = 0; k < K; k++) pre += w[d * K + k]! * win[t + k]!;
        let dpre = gOut[(b * L + t) * D + d]!;
        if (applySilu) {
          const sg = sigmoid(pre);
          dpre *= sg + pre * sg * (1 - sg);
        }
        dbias[d] = dbias[d]! + dpre;
        for (let k = 0; k < K; k++) {
          dw[d * K + k] = dw[d * K + k]! + dpre * win[t + k]!;
          dwin[t + k] = dwin[t + k]! + dpre * w[d * K + k]!;
        }
      }
      for (let t = 0; t < L; t++) dx[(b * L + t) * D + d] = dwin[S + t]!;
      for (let s = 0; s < S; s++) dstate[(b * D + d) * S + s] = dwin[s]!;
    }
  }
  return { dx, dw, dbias, dstate };
}
