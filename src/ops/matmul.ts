/** Matrix products. */
import { ArgumentError } from '../errors.js';
import { isHalf } from '../tensor/dtype.js';
import { broadcastShapes, formatShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { expectDtype, sameBackend } from './check.js';
import { add } from './elementwise.js';
import { reshape } from './shape.js';
import { record, saveForBackward, shouldRecord } from '../autograd/tape.js';
import { sumToShape } from '../autograd/backward.js';

export interface MatmulOpts {
  transA?: boolean;
  transB?: boolean;
}

/** (..., M, K) · (..., K, N) → (..., M, N), with optional transposes of the last two axes; batch axes broadcast. */
export function matmul(a: Tensor, b: Tensor, o: MatmulOpts = {}): Tensor {
  sameBackend('matmul', a, b);
  expectDtype('matmul', 'a', a, 'f32');
  if (!(b.dtype === 'f32' || (isHalf(b.dtype) && o.transB && !o.transA))) {
    throw new ArgumentError(`matmul: b must be f32 (or a bf16/f16 weight used transposed, transB), got ${b.dtype}`);
  }
  if (a.rank < 2 || b.rank < 2) {
    throw new ArgumentError(`matmul: both operands need rank >= 2, got ${formatShape(a.shape)} and ${formatShape(b.shape)}`);
  }
  const transA = o.transA ?? false;
  const transB = o.transB ?? false;
  const [am, ak] = transA ? [a.shape[a.rank - 1]!, a.shape[a.rank - 2]!] : [a.shape[a.rank - 2]!, a.shape[a.rank - 1]!];
  const [bk, bn] = transB ? [b.shape[b.rank - 1]!, b.shape[b.rank - 2]!] : [b.shape[b.rank - 2]!, b.shape[b.rank - 1]!];
  if (ak !== bk) {
    throw new ArgumentError(
      `matmul: inner dimensions differ: ${formatShape(a.shape)}${transA ? 'ᵀ' : ''} · ${formatShape(b.shape)}${transB ? 'ᵀ' : ''} (${ak} vs ${bk})`,
    );
  }
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const batch = broadcastShapes(batchA, batchB, 'matmul');
  const nBatch = batch.reduce((p, q) => p * q, 1);
  const sz = (s: readonly number[]) => s.reduce((p, q) => p * q, 1);
  if ((sz(batchA) !== 1 && sz(batchA) !== nBatch) || (sz(batchB) !== 1 && sz(batchB) !== nBatch)) {
    throw new ArgumentError(`matmul: batch axes ${formatShape(batchA)} and ${formatShape(batchB)} must match or be 1`);
  }
  const y = a.backend.matmul(a, b, [...batch, am, bn], { transA, transB });
  if (shouldRecord(a, b)) {
    const [sa, sb] = [saveForBackward(a), saveForBackward(b)];
    // C = op(A)·op(B): dA = g·op(B)ᵀ (transposed back when A was), dB = op(A)ᵀ·g (likewise).
    record('matmul', [a, b], [y], ([g]) => [
      sumToShape(transA ? matmul(sb, g!, { transA: transB, transB: true }) : matmul(g!, sb, { transB: !transB }), a.shape),
      sumToShape(transB ? matmul(g!, sa, { transA: true, transB: transA }) : matmul(sa, g!, { transA: !transA }), b.shape),
    ], [sa, sb]);
  }
  return y;
}

/**
 * PyTorch's Linear: x (..., in) · Wᵀ + bias, with W stored as (out, in). Leading axes are folded
 * into one so the backend sees a single (rows, in) × (out, in)ᵀ product.
 */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  const inF = weight.shape[1]!;
  if (weight.rank !== 2 || x.shape[x.rank - 1] !== inF) {
    throw new ArgumentError(`linear: input ${formatShape(x.shape)} does not fit weight ${formatShape(weight.shape)} (out, in)`);
  }
  const rows = x.size / inF;
  const x2 = reshape(x, [rows, inF]);
  const y2 = matmul(x2, weight, { transB: true });
  x2.dispose();
  const y = reshape(y2, [...x.shape.slice(0, -1), weight.shape[0]!]);
  y2.dispose();
  if (!bias) return y;
  const yb = add(y, bias);
  y.dispose();
  return yb;
}
