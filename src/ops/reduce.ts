/** Reductions over the last axis. */
import { ArgumentError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { expectDtype, sameBackend } from './check.js';

function lastAxis(op: string, x: Tensor): void {
  sameBackend(op, x);
  expectDtype(op, 'x', x, 'f32');
  if (x.rank < 1 || x.shape[x.rank - 1] === 0) throw new ArgumentError(`${op}: needs a non-empty last axis`);
}

export function sum(x: Tensor): Tensor {
  lastAxis('sum', x);
  return x.backend.sumLastAxis(x);
}
export function max(x: Tensor): Tensor {
  lastAxis('max', x);
  return x.backend.maxLastAxis(x);
}
export function softmax(x: Tensor): Tensor {
  lastAxis('softmax', x);
  return x.backend.softmax(x);
}
/** int32 index of the first maximum along the last axis. */
export function argmax(x: Tensor): Tensor {
  lastAxis('argmax', x);
  return x.backend.argmax(x);
}
/** The k largest along the last axis, descending, with int32 indices. */
export function topK(x: Tensor, k: number): { values: Tensor; indices: Tensor } {
  lastAxis('topK', x);
  const n = x.shape[x.rank - 1]!;
  if (!Number.isInteger(k) || k < 1 || k > n) throw new ArgumentError(`topK: k must be an integer in [1, ${n}], got ${k}`);
  return x.backend.topK(x, k);
}
