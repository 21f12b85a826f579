/** Normalisation and embedding lookup. */
import { ArgumentError } from '../errors.js';
import { formatShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { expectDtype, expectShape, sameBackend } from './check.js';

/** x · rsqrt(mean(x², -1) + eps) · weight (HF's MambaRMSNorm / LlamaRMSNorm). */
export function rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
  sameBackend('rmsNorm', x, weight);
  expectDtype('rmsNorm', 'x', x, 'f32');
  expectShape('rmsNorm', 'weight', weight, [x.shape[x.rank - 1]!]);
  return x.backend.rmsNorm(x, weight, eps);
}

/**
 * Rows of `table` (V, H) for int32 `ids` of any shape → (...ids.shape, H). The ids are checked
 * against V first (a read-back on GPU backends, so models check ids while they are still plain
 * numbers and call this with `checked: true`).
 */
export function embedding(ids: Tensor, table: Tensor, checked = false): Tensor {
  sameBackend('embedding', ids, table);
  expectDtype('embedding', 'ids', ids, 'i32');
  if (table.rank !== 2) throw new ArgumentError(`embedding: table must be (V, H), got ${formatShape(table.shape)}`);
  if (table.dtype === 'i32') throw new ArgumentError('embedding: table must be floating point, got i32');
  if (!checked) {
    const v = table.shape[0]!;
    const data = ids.dataSync();
    for (const id of data) {
      if (id < 0 || id >= v) throw new ArgumentError(`embedding: token id ${id} is outside the vocabulary [0, ${v})`);
    }
  }
  return ids.backend.embedding(ids, table);
}
