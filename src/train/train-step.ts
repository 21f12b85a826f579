/**
 * One training step, as every trainer runs it (`mamba-ts train`, the forecaster's and the image
 * classifier's trainers, the synthetic-task experiments, the training benchmarks): the loss of a
 * batch (or of several micro-batches, each scaled by 1/n, their gradients summed), its backward,
 * the gradient-norm clip, one AdamW update and the gradients cleared.
 *
 * The clip and the update run as one fused pass over all parameters where the backend has it
 * (Backend.createFusedAdamW: the norm and the clip's scale stay on the device), else per parameter.
 * replayed-step.ts records this same step for replay.
 */
import '../autograd/backward.js';
import { backward } from '../autograd/backward.js';
import type { Parameter } from '../nn/module.js';
import { scale } from '../ops/elementwise.js';
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../errors.js';
import { clipGradNorm, type AdamW } from './adamw.js';

export interface TrainStepOptions {
  /** Clip the gradients' global L2 norm to this; Infinity (or 0, as configs write it): no clipping. */
  gradClip: number;
  /** Micro-batches whose gradients add up to the step's (lossOf is called once for each); default 1. */
  microBatches?: number;
}

export interface TrainStepResult {
  /** The mean of the micro-batches' losses. */
  loss: number;
  /** The gradients' norm before clipping (NaN when the loss was not finite: no backward ran to the end). */
  gradNorm: number;
  /** False when the loss or the norm was not finite: then no parameter changed. */
  updated: boolean;
}

/** The clip bound as the optimizer takes it: configs write 0 for "no clipping". */
export function clipBound(gradClip: number): number {
  if (!(gradClip >= 0)) throw new ArgumentError(`gradClip must be a number >= 0 (0: no clipping), got ${gradClip}`);
  return gradClip === 0 ? Infinity : gradClip;
}

/**
 * The gradients of `loss` (a scalar) added into the parameters' .grad, then `loss` disposed.
 * `seed`: dloss/dloss, a fixed ones tensor (a recorded step must not upload one).
 */
export function backwardInto(loss: Tensor, seed?: Tensor): void {
  backward(loss, seed);
  loss.dispose();
}

/**
 * The fused optimizer's part of a step, device work only (recordable): clip, update, gradients
 * cleared. Returns the norm before clipping as the optimizer's device tensor (1).
 */
export function applyFusedAndClear(opt: AdamW, params: readonly Parameter[], maxNorm: number): Tensor {
  try {
    return opt.applyFused(maxNorm);
  } finally {
    for (const p of params) p.zeroGrad();
  }
}

/**
 * Clip and update from the parameters' .grad, then clear them. Returns the norm before clipping;
 * when it is not finite nothing was updated (and the optimizer's step count stays).
 */
export async function clipAndUpdate(opt: AdamW, params: readonly Parameter[], gradClip: number): Promise<number> {
  const maxNorm = clipBound(gradClip);
  try {
    if (opt.fusedOptimizer()) {
      opt.beginStep();
      const norm = (await applyFusedAndClear(opt, params, maxNorm).data())[0]!;
      if (!Number.isFinite(norm)) opt.step--; // the device skipped the update
      return norm;
    }
    const norm = await clipGradNorm([...params], maxNorm);
    if (Number.isFinite(norm)) opt.update();
    return norm;
  } finally {
    for (const p of params) p.zeroGrad();
  }
}

/**
 * One step: `lossOf(micro)` for each micro-batch (a scalar loss computed with recording on; the
 * step disposes it, and lossOf disposes whatever else it made), backward, clip, update. A loss or
 * norm that is not finite updates nothing; the caller decides whether to stop.
 */
export async function trainStep(opt: AdamW, params: readonly Parameter[], lossOf: (micro: number) => Tensor | Promise<Tensor>, o: TrainStepOptions): Promise<TrainStepResult> {
  const n = o.microBatches ?? 1;
  if (!Number.isInteger(n) || n < 1) throw new ArgumentError(`trainStep: microBatches must be an integer >= 1, got ${n}`);
  let loss = 0;
  for (let micro = 0; micro < n; micro++) {
    const l = await lossOf(micro);
    // Read after the backward is recorded: reading first would wait for the forward before the
    // backward's launches are even chosen.
    const scaled = n === 1 ? l : scale(l, 1 / n);
    backward(scaled);
    if (scaled !== l) scaled.dispose();
    loss += (await l.data())[0]! / n;
    l.dispose();
  }
  if (!Number.isFinite(loss)) {
    for (const p of params) p.zeroGrad();
    return { loss, gradNorm: NaN, updated: false };
  }
  const gradNorm = await clipAndUpdate(opt, params, o.gradClip);
  return { loss, gradNorm, updated: Number.isFinite(gradNorm) };
}
