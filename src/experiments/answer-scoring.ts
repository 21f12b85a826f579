/**
 * Loss and accuracy of a synthetic task's answers, read where the task's protocol reads them: the
 * output at position t is scored against `targets[t]` (see synthetic-tasks.ts), with no shift.
 * Both take the targets in the same convention, so training and measuring cannot disagree on
 * which position answers.
 */
import { ArgumentError } from '../errors.js';
import type { DeviceName } from '../backend/registry.js';
import { tensor } from '../ops/create.js';
import { crossEntropy } from '../ops/loss.js';
import { reshape } from '../ops/shape.js';
import { tidy } from '../tensor/memory.js';
import type { Tensor } from '../tensor/tensor.js';
import { NOT_SCORED } from './synthetic-tasks.js';

function checkTargets(targets: number[][], B: number, L: number, V: number): void {
  if (!Array.isArray(targets) || targets.length !== B || targets.some((r) => !Array.isArray(r) || r.length !== L)) {
    throw new ArgumentError(`targets: expected ${B} rows of ${L} entries (the logits' batch and length)`);
  }
  targets.forEach((row, b) =>
    row.forEach((id, t) => {
      if (id !== NOT_SCORED && (!Number.isInteger(id) || id < 0 || id >= V)) {
        throw new ArgumentError(`targets[${b}][${t}] = ${id} is neither a token id in [0, ${V}) nor ${NOT_SCORED}`);
      }
    }),
  );
}

/** Mean cross-entropy of logits (B, L, V) at the scored positions against their targets. */
export function answerLoss(logits: Tensor, targets: number[][]): Tensor {
  if (logits.rank !== 3) throw new ArgumentError(`answerLoss: logits (B, L, V) expected, got rank ${logits.rank}`);
  const [B, L, V] = logits.shape as [number, number, number];
  const { labels, scored } = answerLabels(targets, B, L, V);
  // Made inside the tidy, the labels are freed with it (the backward keeps its own reference).
  return tidy(() => answerLossOn(logits, tensor(labels, [B * L], { dtype: 'i32', device: logits.device as DeviceName }), scored));
}

/**
 * The targets flattened as int32 labels (B·L), NOT_SCORED where a position is not scored, and the
 * count of scored positions (the mean's divisor): what answerLossOn takes, e.g. from the fixed
 * input buffers of a replayed training step.
 */
export function answerLabels(targets: number[][], B: number, L: number, V: number): { labels: Int32Array; scored: number } {
  checkTargets(targets, B, L, V);
  const labels = new Int32Array(B * L);
  let scored = 0;
  targets.forEach((row, b) => {
    labels.set(row, b * L);
    scored += row.filter((id) => id !== NOT_SCORED).length;
  });
  if (scored === 0) throw new ArgumentError('answerLoss: no scored position in targets');
  return { labels, scored };
}

/** answerLoss from labels already on the device (answerLabels' labels, int32 (B·L)) and their scored count. */
export function answerLossOn(logits: Tensor, labels: Tensor, scored: number): Tensor {
  if (logits.rank !== 3) throw new ArgumentError(`answerLoss: logits (B, L, V) expected, got rank ${logits.rank}`);
  const [B, L, V] = logits.shape as [number, number, number];
  return tidy(() => crossEntropy(reshape(logits, [B * L, V]), labels, scored, NOT_SCORED));
}

/** How many scored positions have their target as the argmax of the logits at that same position. */
export function answerAccuracy(logits: Float32Array, shape: readonly number[], targets: number[][]): { correct: number; total: number } {
  if (shape.length !== 3) throw new ArgumentError(`answerAccuracy: logits shape (B, L, V) expected, got [${shape.join(', ')}]`);
  const [B, L, V] = shape as [number, number, number];
  if (logits.length !== B * L * V) throw new ArgumentError(`answerAccuracy: ${logits.length} logits do not fill the shape [${B}, ${L}, ${V}]`);
  checkTargets(targets, B, L, V);
  let correct = 0;
  let total = 0;
  targets.forEach((row, b) =>
    row.forEach((target, t) => {
      if (target === NOT_SCORED) return;
      const at = (b * L + t) * V;
      let best = 0;
      for (let v = 1; v < V; v++) if (logits[at + v]! > logits[at + best]!) best = v;
      total++;
      if (best === target) correct++;
    }),
  );
  return { correct, total };
}
