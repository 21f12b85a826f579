/** A fused Mamba layer decode step, where the backend has one (see Backend.mambaBlockStep). */
import type { MambaBlockStepInputs, MambaBlockStepWeights } from '../backend/backend.js';
import { Tensor } from '../tensor/tensor.js';
import { expectShape, sameBackend } from './check.js';
import { ArgumentError } from '../errors.js';
import { noBackwardYet } from '../autograd/tape.js';

/** The tensor inputs, inner norm weights included. */
function tensorsOf(i: MambaBlockStepInputs): Tensor[] {
  const top = Object.values(i).filter((v): v is Tensor => v instanceof Tensor);
  return i.innerNorms ? [...top, i.innerNorms.dt, i.innerNorms.b, i.innerNorms.c] : top;
}

/**
 * h (B, H) → h + mixer(RMSNorm(h)) and the new states, in one fused pass; null when the device has
 * no fused step for these inputs, and the caller runs the layer op by op. `innerNorms` (Jamba)
 * norms Δ, B and C after x_proj; `inPlace` writes the new states over the old ones.
 */
export function mambaBlockStepFused(i: MambaBlockStepInputs): { out: Tensor; convState: Tensor; ssmState: Tensor } | null {
  const backend = i.h.backend;
  if (!backend.mambaBlockStep) return null;
  sameBackend('mambaBlockStep', ...tensorsOf(i));
  const [B, H] = i.h.shape as [number, number];
  const [E, K] = i.convWeight.shape as [number, number];
  const N = i.A.shape[1]!;
  const R = i.dtProj.shape[1]!;
  const op = 'mambaBlockStep';
  expectShape(op, 'normWeight', i.normWeight, [H]);
  expectShape(op, 'inProj', i.inProj, [2 * E, H]);
  expectShape(op, 'convState', i.convState, [B, E, K - 1]);
  expectShape(op, 'xProj', i.xProj, [R + 2 * N, E]);
  expectShape(op, 'dtProj', i.dtProj, [E, R]);
  expectShape(op, 'A', i.A, [E, N]);
  expectShape(op, 'outProj', i.outProj, [H, E]);
  expectShape(op, 'ssmState', i.ssmState, [B, E, N]);
  if (i.convStateOut) {
    expectShape(op, 'convStateOut', i.convStateOut, [B, E, K - 1]);
    if (i.convStateOut.ref === i.convState.ref) throw new ArgumentError(`${op}: convStateOut must not share convState's storage`);
  }
  if (i.ssmStateOut) {
    expectShape(op, 'ssmStateOut', i.ssmStateOut, [B, E, N]);
    if (i.ssmStateOut.ref === i.ssmState.ref) throw new ArgumentError(`${op}: ssmStateOut must not share ssmState's storage`);
  }
  if (i.inPlace && (i.convStateOut || i.ssmStateOut)) throw new ArgumentError(`${op}: inPlace writes the states over convState and ssmState; give no convStateOut / ssmStateOut with it`);
  const norms = i.innerNorms;
  if (norms) {
    expectShape(op, 'innerNorms.dt', norms.dt, [R]);
    expectShape(op, 'innerNorms.b', norms.b, [N]);
    expectShape(op, 'innerNorms.c', norms.c, [N]);
    if (!(norms.eps >= 0) || !Number.isFinite(norms.eps)) throw new ArgumentError(`${op}: innerNorms.eps must be a finite number >= 0, got ${norms.eps}`);
  }
  noBackwardYet(op, ...tensorsOf(i));
  return backend.mambaBlockStep(i);
}

/**
 * Builds now what the device's fused step builds from a layer's parameters on first use (see
 * Backend.prepareMambaBlockStep), e.g. before a decode step is recorded for replay; nothing where
 * the device has nothing to build.
 */
export function prepareMambaBlockStep(w: MambaBlockStepWeights): void {
  w.normWeight.backend.prepareMambaBlockStep?.(w);
}
