/**
 * One decode step of the selective SSM (mamba_ssm's selective_state_update_ref):
 *   Δ = softplus(dt + bias);  h = exp(Δ·A) ⊙ h + Δ·B·x;  y = (C·h + D·x) · silu(z)
 * x, dt, z (B, D); B, C (B, N); A (D, N); state (B, D, N), returned as a new array.
 */
import { silu, softplus } from './elementwise.js';

export function selectiveStateUpdateKernel(
  state: Float32Array,
  x: Float32Array,
  dt: Float32Array,
  A: Float32Array,
  B: Float32Array,
  C: Float32Array,
  D: Float32Array | null,
  z: Float32Array | null,
  dtBias: Float32Array | null,
  batch: number,
  dim: number,
  N: number,
  deltaSoftplus: boolean,
  out: Float32Array,
  newState: Float32Array,
): void {
  for (let b = 0; b < batch; b++) {
    for (let d = 0; d < dim; d++) {
      const i = b * dim + d;
      let delta = dt[i]! + (dtBias ? dtBias[d]! : 0);
      if (deltaSoftplus) delta = softplus(delta);
      const u = x[i]!;
      let y = 0;
      for (let n = 0; n < N; n++) {
        const s = i * N + n;
        const h = Math.exp(delta * A[d * N + n]!) * state[s]! + delta * B[b * N + n]! * u;
        newState[s] = h;
        y += C[b * N + n]! * h;
      }
      if (D) y += D[d]! * u;
      if (z) y *= silu(z[i]!);
      out[i] = y;
    }
  }
}
