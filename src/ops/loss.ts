/** Losses. */
import { ArgumentError } from '../errors.js';
import { record, saveForBackward, shouldRecord, noBackwardYet } from '../autograd/tape.js';
import type { Tensor } from '../tensor/tensor.js';
import { expectDtype, sameBackend } from './check.js';
import { scale } from './elementwise.js';
import { sum } from './reduce.js';
import { reshape } from './shape.js';
import { formatShape } from '../tensor/shape.js';
import { tidy } from '../tensor/memory.js';

/**
 * Mean cross-entropy of logits (R, V) against int32 labels (R), skipping labels equal to
 * `ignoreIndex` (HF's -100): a scalar tensor, as PyTorch's F.cross_entropy. Labels must be in
 * [0, V) or the ignore index; the caller checks them (they are plain numbers there).
 */
export function crossEntropy(logits: Tensor, labels: Tensor, validCount: number, ignoreIndex = -100): Tensor {
  sameBackend('crossEntropy', logits, labels);
  expectDtype('crossEntropy', 'labels', labels, 'i32');
  if (logits.rank !== 2 || labels.rank !== 1 || labels.shape[0] !== logits.shape[0]) {
    throw new ArgumentError(`crossEntropy: logits (R, V) and labels (R) expected, got ${formatShape(logits.shape)} and ${formatShape(labels.shape)}`);
  }
  const backend = logits.backend;
  if (!backend.crossEntropy || !backend.crossEntropyBackward) {
    noBackwardYet(`crossEntropy on ${backend.name}`, logits);
    throw new ArgumentError(`crossEntropy: not available on ${backend.name} yet`);
  }
  // tidy: the per-row losses and the sum are freed here even when the caller has no tidy of its own
  // (the tape keeps what the backward needs).
  return tidy(() => {
    const rows = backend.crossEntropy!(logits, labels, ignoreIndex); // (R)
    if (shouldRecord(logits)) {
      const [sl, slab] = [saveForBackward(logits), saveForBackward(labels)];
      record('crossEntropy', [logits, labels], [rows], ([g]) => [backend.crossEntropyBackward!(sl, slab, ignoreIndex, g!), null], [sl, slab]);
    }
    const total = sum(reshape(rows, [1, rows.size])); // (1)
    return reshape(scale(total, 1 / Math.max(1, validCount)), []);
  });
}
