/** Reductions over the last axis. */
import { ArgumentError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { expectDtype, sameBackend } from './check.js';
import { record, saveForBackward, shouldRecord, noBackwardYet } from '../autograd/tape.js';
import { add, mul, sub } from './elementwise.js';
import { zeros } from './create.js';
import { reshape } from './shape.js';
import type { DeviceName } from '../backend/registry.js';

function lastAxis(op: string, x: Tensor): void {
  sameBackend(op, x);
  expectDtype(op, 'x', x, 'f32');
  if (x.rank < 1 || x.shape[x.rank - 1] === 0) throw new ArgumentError(`${op}: needs a non-empty last axis`);
}

export function sum(x: Tensor): Tensor {
  lastAxis('sum', x);
  const y = x.backend.sumLastAxis(x);
  if (shouldRecord(x)) {
    // Every element of a row receives the row's gradient.
    record('sum', [x], [y], ([g]) => [add(zeros(x.shape, { device: x.device as DeviceName }), reshape(g!, [...y.shape, 1]))]);
  }
  return y;
}
export function max(x: Tensor): Tensor {
  lastAxis('max', x);
  noBackwardYet('max', x);
  return x.backend.maxLastAxis(x);
}
export function softmax(x: Tensor): Tensor {
  lastAxis('softmax', x);
  const y = x.backend.softmax(x);
  if (shouldRecord(x)) {
    const sy = saveForBackward(y);
    // The softmax Jacobian applied to g, row by row: dx = y ⊙ (g − Σ g ⊙ y).
    record('softmax', [x], [y], ([g]) => [mul(sy, sub(g!, reshape(sum(mul(g!, sy)), [...sy.shape.slice(0, -1), 1])))], [sy]);
  }
  return y;
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
