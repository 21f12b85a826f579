/** Argument checks shared by the ops: one place that words the errors. */
import { ArgumentError } from '../errors.js';
import type { DType } from '../tensor/dtype.js';
import { formatShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';

export function sameBackend(op: string, ...ts: (Tensor | null | undefined)[]): void {
  const present = ts.filter((t): t is Tensor => !!t);
  for (const t of present) t.assertAlive();
  const first = present[0];
  for (const t of present) {
    if (t.backend !== first!.backend) {
      throw new ArgumentError(`${op}: tensors are on different devices (${first!.device} and ${t.device})`);
    }
  }
}

/** Checks `t` has exactly `shape`; -1 in `shape` matches anything. */
export function expectShape(op: string, name: string, t: Tensor, shape: readonly number[]): void {
  const ok = t.rank === shape.length && shape.every((d, i) => d === -1 || d === t.shape[i]);
  if (!ok) {
    const want = formatShape(shape).replace(/-1/g, '*');
    throw new ArgumentError(`${op}: ${name} must have shape ${want}, got ${formatShape(t.shape)}`);
  }
}

export function expectRank(op: string, name: string, t: Tensor, rank: number): void {
  if (t.rank !== rank) throw new ArgumentError(`${op}: ${name} must have rank ${rank}, got shape ${formatShape(t.shape)}`);
}

export function expectDtype(op: string, name: string, t: Tensor, dtype: DType): void {
  if (t.dtype !== dtype) throw new ArgumentError(`${op}: ${name} must be ${dtype}, got ${t.dtype}`);
}
