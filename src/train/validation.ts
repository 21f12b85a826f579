/**
 * The validation loss `mamba-ts train` reports: the mean of HF's loss over a fixed set of batches of
 * windows drawn from the validation split. It lives apart from the training loop so that a saved
 * model (e.g. a shipped bf16 copy of a checkpoint) can be measured exactly as it was in training.
 */
import { noGrad } from '../autograd/tape.js';
import { EventLoopYielder } from '../event-loop.js';
import { RandomSource } from '../ops/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { sampleWindows } from './char-data.js';
import type { TrainableLM } from './lm-model.js';

/** The training config's fields that choose the validation windows. */
export interface ValidationWindows {
  evalBatches: number;
  batchSize: number;
  seqLen: number;
  seed: number;
}

/** One forward's outputs, as the evaluation sees them (expertCounts: models with experts). */
export interface ValidationOutput {
  logits: Tensor;
  loss?: Tensor;
  auxLoss?: Tensor;
  expertCounts?: number[][];
}

/**
 * `evalBatches` batches of `batchSize` windows of `seqLen` ids from `valid`, batch i drawn from
 * its own seeded stream (seed · 7919 + i): the same windows at every evaluation, independent of the
 * training stream and of how many batches are asked for (the first k of n are the k batches).
 */
export function validationBatches(valid: Int32Array, w: ValidationWindows): number[][][] {
  return Array.from({ length: w.evalBatches }, (_, i) => sampleWindows(valid, w.batchSize, w.seqLen, new RandomSource(w.seed * 7919 + i)));
}

/**
 * The mean over `batches` of the model's loss with each window as its own labels, without
 * gradients. `onOutput` sees each batch's outputs before they are freed (the trainer reads the
 * first batch's expert routing there).
 */
export async function validationLoss(
  model: TrainableLM,
  batches: readonly number[][][],
  onOutput?: (batchIndex: number, out: ValidationOutput) => void,
): Promise<number> {
  const yielder = new EventLoopYielder();
  let total = 0;
  for (const [i, b] of batches.entries()) {
    await yielder.maybeYield(); // CPU steps await only microtasks: let timers and I/O run (event-loop.ts)
    const out: ValidationOutput = await noGrad(() => model.forward(b, { labels: b }));
    try {
      total += (await out.loss!.data())[0]!;
      onOutput?.(i, out);
    } finally {
      out.loss?.dispose();
      out.auxLoss?.dispose();
      out.logits.dispose();
    }
  }
  return total / batches.length;
}
