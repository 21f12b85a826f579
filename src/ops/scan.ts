/**
 * The selective scan (Mamba's S6) and its one-step recurrent form. See backend/cpu/scan-reference.ts
 * for the exact semantics; shapes are channels-last.
 */
import { ArgumentError } from '../errors.js';
import { formatShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { expectDtype, expectRank, expectShape, sameBackend } from './check.js';
import { noBackwardYet, record, saveForBackward, shouldRecord } from '../autograd/tape.js';
import { zeros } from './create.js';
import { writeSlice } from './shape.js';
import type { DeviceName } from '../backend/registry.js';

export interface SelectiveScanOptions {
  D?: Tensor | null; // (D)
  z?: Tensor | null; // (B, L, D)
  deltaBias?: Tensor | null; // (D)
  deltaSoftplus?: boolean;
  initialState?: Tensor | null; // (B, D, N)
}

/**
 * out[b,t,d] = (Σ_n C[b,t,n]·h[b,t,d,n] + D[d]·u[b,t,d]) · silu(z[b,t,d]) with
 * h[t] = exp(Δ[t]·A) ⊙ h[t-1] + Δ[t]·B[t]·u[t] and Δ = softplus(delta + deltaBias).
 * u, delta, z: (B, L, D); A: (D, N); B, C: (B, L, N). Returns out (B, L, D) and the state after
 * the last token (B, D, N).
 */
export function selectiveScan(
  u: Tensor,
  delta: Tensor,
  A: Tensor,
  B: Tensor,
  C: Tensor,
  o: SelectiveScanOptions = {},
): { out: Tensor; lastState: Tensor } {
  const D = o.D ?? null;
  const z = o.z ?? null;
  const deltaBias = o.deltaBias ?? null;
  const initialState = o.initialState ?? null;
  const op = 'selectiveScan';
  sameBackend(op, u, delta, A, B, C, D, z, deltaBias, initialState);
  expectRank(op, 'u (B, L, D)', u, 3);
  for (const t of [u, delta, A, B, C, D, z, deltaBias, initialState]) if (t) expectDtype(op, 'inputs', t, 'f32');
  const [b, L, d] = u.shape as [number, number, number];
  if (A.rank !== 2 || A.shape[0] !== d) throw new ArgumentError(`${op}: A must be (D=${d}, N), got ${formatShape(A.shape)}`);
  const n = A.shape[1]!;
  expectShape(op, 'delta', delta, [b, L, d]);
  expectShape(op, 'B', B, [b, L, n]);
  expectShape(op, 'C', C, [b, L, n]);
  if (D) expectShape(op, 'D', D, [d]);
  if (z) expectShape(op, 'z', z, [b, L, d]);
  if (deltaBias) expectShape(op, 'deltaBias', deltaBias, [d]);
  if (initialState) expectShape(op, 'initialState', initialState, [b, d, n]);
  const inputs = [u, delta, A, B, C, D, z, deltaBias, initialState];
  const backend = u.backend;
  if (!backend.selectiveScanBackward) noBackwardYet(`${op} on ${backend.name}`, ...inputs);
  const scanIn = { u, delta, A, B, C, D, z, deltaBias, initialState };
  const scanOpts = { deltaSoftplus: o.deltaSoftplus ?? false };
  const r = backend.selectiveScan(scanIn, scanOpts);
  if (shouldRecord(...inputs)) {
    const saved = inputs.map((t) => (t ? saveForBackward(t) : null));
    const [su, sdelta, sA, sB, sC, sD, sz, sbias, sh0] = saved;
    record(op, inputs, [r.out, r.lastState], ([gOut, gLast]) => {
      const gradOut = gOut ?? zeros(r.out.shape, { device: u.device as DeviceName });
      const g = backend.selectiveScanBackward!(
        { u: su!, delta: sdelta!, A: sA!, B: sB!, C: sC!, D: sD ?? null, z: sz ?? null, deltaBias: sbias ?? null, initialState: sh0 ?? null },
        scanOpts,
        gradOut,
        gLast ?? null,
      );
      return [g.du, g.ddelta, g.dA, g.dB, g.dC, g.dD, g.dz, g.ddeltaBias, g.dInitialState];
    }, saved.filter((t): t is Tensor => t !== null));
  }
  return r;
}

export interface StateUpdateOptions {
  D?: Tensor | null; // (D)
  z?: Tensor | null; // (B, D)
  dtBias?: Tensor | null; // (D)
  dtSoftplus?: boolean;
  /**
   * Write the new state over `state` and return `state` itself as it (a replayed decode step keeps
   * its buffers fixed; see models/kv-decode-stepper.ts). Off by default: a new tensor.
   */
  inPlace?: boolean;
}

/** One token of the scan: state (B, D, N), x and dt (B, D), B and C (B, N) → y (B, D), new state. */
export function selectiveStateUpdate(
  state: Tensor,
  x: Tensor,
  dt: Tensor,
  A: Tensor,
  B: Tensor,
  C: Tensor,
  o: StateUpdateOptions = {},
): { out: Tensor; state: Tensor } {
  const D = o.D ?? null;
  const z = o.z ?? null;
  const dtBias = o.dtBias ?? null;
  const op = 'selectiveStateUpdate';
  sameBackend(op, state, x, dt, A, B, C, D, z, dtBias);
  expectRank(op, 'state (B, D, N)', state, 3);
  const [b, d, n] = state.shape as [number, number, number];
  expectShape(op, 'x', x, [b, d]);
  expectShape(op, 'dt', dt, [b, d]);
  expectShape(op, 'A', A, [d, n]);
  expectShape(op, 'B', B, [b, n]);
  expectShape(op, 'C', C, [b, n]);
  if (D) expectShape(op, 'D', D, [d]);
  if (z) expectShape(op, 'z', z, [b, d]);
  if (dtBias) expectShape(op, 'dtBias', dtBias, [d]);
  noBackwardYet(op, state, x, dt, A, B, C, D, z, dtBias);
  const inPlace = o.inPlace ?? false;
  const r = state.backend.selectiveStateUpdate(
    { state, x, dt, A, B, C, D, z, dtBias, inPlace },
    { deltaSoftplus: o.dtSoftplus ?? false },
  );
  if (!inPlace || r.state === state) return r;
  // The backend made a new state: copy it over the old one.
  writeSlice(state, r.state, 0, 0);
  r.state.dispose();
  return { out: r.out, state };
}
