/** Reversing the order along an axis: the backward scans of bidirectional and cross-scan mixers. */
import { normAxis } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { sameBackend } from './check.js';
import { record, shouldRecord } from '../autograd/tape.js';

/** x with `axis` reversed (a copy): out[..., j, ...] = x[..., n-1-j, ...]. Its own backward. */
export function flip(x: Tensor, axis: number): Tensor {
  sameBackend('flip', x);
  const a = normAxis(axis, x.rank, 'flip');
  const y = x.backend.flip(x, a);
  if (shouldRecord(x)) record('flip', [x], [y], ([g]) => [flip(g!, a)]);
  return y;
}
