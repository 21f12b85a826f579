/** A fused Mamba-2 layer decode step, where the backend has one (see Backend.mamba2BlockStep). */
import type { Mamba2BlockStepInputs } from '../backend/backend.js';
import type { DeviceName } from '../backend/registry.js';
import { noBackwardYet } from '../autograd/tape.js';
import { ArgumentError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { expectShape, sameBackend } from './check.js';
import { zeros } from './create.js';
import { writeSlice } from './shape.js';

const tensorsOf = (i: Mamba2BlockStepInputs): Tensor[] => Object.values(i).filter((v): v is Tensor => typeof v === 'object' && v !== null && !Array.isArray(v));

/**
 * h (B, D) → h + mixer(RMSNorm(h)) and the new states, in one fused pass; null when the device
 * has no fused step for these inputs, and the caller runs the layer op by op. With `inPlace` the
 * new states are written over `convState` and `ssmState`, which are returned as them; otherwise
 * the inputs are left as they were and the new states are new tensors.
 */
export function mamba2BlockStepFused(i: Mamba2BlockStepInputs, inPlace = false): { out: Tensor; convState: Tensor; ssmState: Tensor } | null {
  const backend = i.h.backend;
  if (!backend.mamba2BlockStep) return null;
  const op = 'mamba2BlockStep';
  sameBackend(op, ...tensorsOf(i));
  if (i.h.rank !== 2 || i.ssmState.rank !== 4 || i.convWeight.rank !== 2) {
    throw new ArgumentError(`${op}: expected h (B, D), convWeight (CD, K) and ssmState (B, NH, P, N); got ranks ${i.h.rank}, ${i.convWeight.rank}, ${i.ssmState.rank}`);
  }
  const [B, D] = i.h.shape as [number, number];
  const [CD, K] = i.convWeight.shape as [number, number];
  const [, NH, P, N] = i.ssmState.shape as [number, number, number, number];
  const G = i.groups;
  const E = NH * P;
  if (!Number.isInteger(G) || G < 1 || NH % G !== 0) throw new ArgumentError(`${op}: groups must be a positive integer dividing the ${NH} heads, got ${G}`);
  if (CD !== E + 2 * G * N) throw new ArgumentError(`${op}: convWeight has ${CD} channels, expected E + 2·G·N = ${E + 2 * G * N}`);
  const [lo, hi] = i.dtLimit;
  if (!(lo >= 0) || !(hi >= lo)) throw new ArgumentError(`${op}: dtLimit must be [lo, hi] with 0 <= lo <= hi, got [${lo}, ${hi}]`);
  expectShape(op, 'normWeight', i.normWeight, [D]);
  expectShape(op, 'inProj', i.inProj, [E + CD + NH, D]);
  if (i.inProjBias) expectShape(op, 'inProjBias', i.inProjBias, [E + CD + NH]);
  if (i.convBias) expectShape(op, 'convBias', i.convBias, [CD]);
  expectShape(op, 'convState', i.convState, [B, CD, K - 1]);
  for (const [name, t] of [['dtBias', i.dtBias], ['ALog', i.ALog], ['D', i.D]] as const) expectShape(op, name, t, [NH]);
  expectShape(op, 'gatedNormWeight', i.gatedNormWeight, [E]);
  expectShape(op, 'outProj', i.outProj, [D, E]);
  if (i.outProjBias) expectShape(op, 'outProjBias', i.outProjBias, [D]);
  expectShape(op, 'ssmState', i.ssmState, [B, NH, P, N]);
  noBackwardYet(op, ...tensorsOf(i));
  if (inPlace) {
    const out = backend.mamba2BlockStep(i);
    return out ? { out, convState: i.convState, ssmState: i.ssmState } : null;
  }
  // The kernels update states in place: they run on copies.
  const device = i.h.device as DeviceName;
  const convState = zeros(i.convState.shape, { device });
  const ssmState = zeros(i.ssmState.shape, { device });
  writeSlice(convState, i.convState, 0, 0);
  writeSlice(ssmState, i.ssmState, 0, 0);
  const out = backend.mamba2BlockStep({ ...i, convState, ssmState });
  if (out) return { out, convState, ssmState };
  convState.dispose();
  ssmState.dispose();
  return null;
}
