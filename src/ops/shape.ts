/** Shape ops. `reshape` shares storage; the others copy. */
import { ArgumentError } from '../errors.js';
import { formatShape, normAxis, sizeOf, type Shape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { sameBackend } from './check.js';
import { noBackwardYet, record, shouldRecord } from '../autograd/tape.js';
import { zeros } from './create.js';
import type { DeviceName } from '../backend/registry.js';

/** Same values, new shape (one -1 is inferred). Shares the buffer: disposing either is safe. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  x.assertAlive();
  const s = [...shape];
  const unknown = s.indexOf(-1);
  if (unknown >= 0) s[unknown] = x.size / sizeOf(s.filter((_, i) => i !== unknown));
  if (sizeOf(s) !== x.size || s.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new ArgumentError(`reshape: cannot view ${formatShape(x.shape)} as ${formatShape(shape)}`);
  }
  x.ref.retain();
  const y = new Tensor(s, x.dtype, x.ref);
  if (shouldRecord(x)) record('reshape', [x], [y], ([g]) => [reshape(g!, x.shape)]);
  return y;
}

/** x[..., start:start+length, ...] along `axis` (a copy). */
export function slice(x: Tensor, axis: number, start: number, length: number): Tensor {
  sameBackend('slice', x);
  const a = normAxis(axis, x.rank, 'slice');
  const dim = x.shape[a]!;
  if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 0 || start + length > dim) {
    throw new ArgumentError(`slice: [${start}, ${start + length}) is outside axis ${a} of ${formatShape(x.shape)}`);
  }
  const y = x.backend.slice(x, a, start, length);
  if (shouldRecord(x)) {
    // The gradient is g placed back at [start, start+length) with zeros around it.
    record('slice', [x], [y], ([g]) => {
      const parts: Tensor[] = [];
      const zerosAlong = (n: number) => zeros(x.shape.map((d, i) => (i === a ? n : d)), { device: x.device as DeviceName });
      if (start > 0) parts.push(zerosAlong(start));
      parts.push(g!);
      if (dim - start - length > 0) parts.push(zerosAlong(dim - start - length));
      return [parts.length === 1 ? reshape(g!, x.shape) : concat(parts, a)];
    });
  }
  return y;
}

/**
 * Splits `axis` into consecutive pieces of the given sizes. Recorded as one node whose backward
 * concatenates the pieces' gradients (zeros for a piece that got none): one tensor of x's size,
 * where a slice per piece would make one per piece and add them.
 */
export function split(x: Tensor, sizes: readonly number[], axis = -1): Tensor[] {
  sameBackend('split', x);
  const a = normAxis(axis, x.rank, 'split');
  const total = sizes.reduce((p, q) => p + q, 0);
  if (sizes.some((n) => !Number.isInteger(n) || n < 0) || total !== x.shape[a]) {
    throw new ArgumentError(`split: sizes [${sizes.join(', ')}] must be whole numbers >= 0 summing to axis ${a} of ${formatShape(x.shape)} (${x.shape[a]})`);
  }
  let at = 0;
  const pieces = sizes.map((n) => {
    const y = x.backend.slice(x, a, at, n);
    at += n;
    return y;
  });
  if (shouldRecord(x)) {
    record('split', [x], pieces, (gs) => {
      const parts = sizes.map((n, i) => gs[i] ?? zeros(x.shape.map((d, k) => (k === a ? n : d)), { device: x.device as DeviceName }));
      const kept = parts.filter((_, i) => sizes[i]! > 0);
      if (kept.length === 0) return [zeros(x.shape, { device: x.device as DeviceName })];
      return [kept.length === 1 ? reshape(kept[0]!, x.shape) : concat(kept, a)];
    });
  }
  return pieces;
}

export function concat(xs: Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new ArgumentError('concat: no tensors given');
  sameBackend('concat', ...xs);
  const first = xs[0]!;
  const a = normAxis(axis, first.rank, 'concat');
  for (const x of xs) {
    if (x.rank !== first.rank || x.dtype !== first.dtype || x.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      throw new ArgumentError(`concat: ${formatShape(x.shape)} (${x.dtype}) does not fit ${formatShape(first.shape)} (${first.dtype}) along axis ${a}`);
    }
  }
  const y = first.backend.concat(xs, a);
  if (shouldRecord(...xs)) {
    const sizes = xs.map((x) => x.shape[a]!);
    record('concat', xs, [y], ([g]) => split(g!, sizes, a));
  }
  return y;
}

/** Permutes axes (a copy). */
export function transpose(x: Tensor, perm: readonly number[]): Tensor {
  sameBackend('transpose', x);
  const sorted = [...perm].sort((p, q) => p - q);
  if (perm.length !== x.rank || sorted.some((p, i) => p !== i)) {
    throw new ArgumentError(`transpose: [${perm.join(', ')}] is not a permutation of the axes of ${formatShape(x.shape)}`);
  }
  const y = x.backend.transpose(x, perm);
  if (shouldRecord(x)) {
    const inverse = perm.map((_, i) => perm.indexOf(i));
    record('transpose', [x], [y], ([g]) => [transpose(g!, inverse)]);
  }
  return y;
}

/**
 * In place: dst[..., start:start+n, ...] = src along `axis` (n = src.shape[axis]); every other
 * axis must match. For buffers filled step by step (a KV cache); it has no backward, so it refuses
 * inputs that require gradients.
 */
export function writeSlice(dst: Tensor, src: Tensor, axis: number, start: number): void {
  sameBackend('writeSlice', dst, src);
  const a = normAxis(axis, dst.rank, 'writeSlice');
  const n = src.shape[a];
  if (src.rank !== dst.rank || src.dtype !== dst.dtype || src.shape.some((d, i) => i !== a && d !== dst.shape[i])) {
    throw new ArgumentError(`writeSlice: src ${formatShape(src.shape)} (${src.dtype}) does not fit dst ${formatShape(dst.shape)} (${dst.dtype}) along axis ${a}`);
  }
  if (!Number.isInteger(start) || start < 0 || start + n! > dst.shape[a]!) {
    throw new ArgumentError(`writeSlice: [${start}, ${start + n!}) is outside axis ${a} of dst ${formatShape(dst.shape)}`);
  }
  if (dst.ref === src.ref) throw new ArgumentError('writeSlice: src and dst must not share storage');
  noBackwardYet('writeSlice', dst, src);
  if (src.size) dst.backend.writeSlice(dst, src, a, start);
}

/** Reverses the order along `axis` (a copy): y[..., i, ...] = x[..., n-1-i, ...]. Its own inverse. */
export function flip(x: Tensor, axis: number): Tensor {
  sameBackend('flip', x);
  const a = normAxis(axis, x.rank, 'flip');
  const y = x.backend.flip(x, a);
  if (shouldRecord(x)) record('flip', [x], [y], ([g]) => [flip(g!, a)]);
  return y;
}
