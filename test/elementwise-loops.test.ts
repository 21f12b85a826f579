// The CPU's per-op elementwise loops against a plain index-by-index broadcast, over the broadcast
// patterns the axis merging distinguishes (same shape, rows, columns, middle axes, scalars, i32).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BinaryOp } from '../src/backend/backend.js';
import { binaryKernel } from '../src/backend/cpu/elementwise.js';
import { sizeOf, type Shape } from '../src/tensor/shape.js';

const OPS: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  max: (a, b) => (a > b || Number.isNaN(a) ? a : b),
  min: (a, b) => (a < b || Number.isNaN(a) ? a : b),
  pow: Math.pow,
  siluGrad: (a, b) => {
    const s = 1 / (1 + Math.exp(-b));
    return a * (s + b * s * (1 - s));
  },
};

function naive(op: BinaryOp, a: Float32Array, aShape: Shape, b: Float32Array, bShape: Shape, outShape: Shape): Float32Array {
  const out = new Float32Array(sizeOf(outShape));
  const r = outShape.length;
  const offset = (shape: Shape, idx: number[]) => {
    let o = 0;
    for (let d = 0; d < shape.length; d++) o = o * shape[d]! + (shape[d] === 1 ? 0 : idx[d + r - shape.length]!);
    return o;
  };
  for (let i = 0; i < out.length; i++) {
    const idx: number[] = [];
    for (let d = r - 1, rest = i; d >= 0; d--) {
      idx[d] = rest % outShape[d]!;
      rest = Math.floor(rest / outShape[d]!);
    }
    out[i] = OPS[op](a[offset(aShape, idx)]!, b[offset(bShape, idx)]!);
  }
  return out;
}

function filled(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 1.3) * 2 + 0.25);
}

const CASES: [Shape, Shape, Shape][] = [
  [[2, 3, 4], [2, 3, 4], [2, 3, 4]],
  [[2, 3, 4], [4], [2, 3, 4]],
  [[2, 3, 4], [3, 1], [2, 3, 4]],
  [[2, 3, 4], [2, 1, 4], [2, 3, 4]],
  [[2, 1, 4], [1, 3, 1], [2, 3, 4]],
  [[1], [2, 3], [2, 3]],
  [[5, 1, 1, 3], [1, 2, 4, 1], [5, 2, 4, 3]],
  [[1, 1], [1, 1], [1, 1]],
  [[3, 1], [1, 1], [3, 1]],
];

test('binary ops broadcast as the index-by-index reference, every op and pattern', () => {
  for (const op of Object.keys(OPS) as BinaryOp[]) {
    for (const [aShape, bShape, outShape] of CASES) {
      const a = filled(sizeOf(aShape), 1);
      const b = filled(sizeOf(bShape), 2);
      const out = new Float32Array(sizeOf(outShape));
      binaryKernel(op, a, aShape, b, bShape, out, outShape);
      assert.deepEqual(out, naive(op, a, aShape, b, bShape, outShape), `${op} ${JSON.stringify([aShape, bShape])}`);
    }
  }
});

test('binary ops on int32 arrays stay int32', () => {
  const a = Int32Array.from([1, 2, 3, 4, 5, 6]);
  const out = new Int32Array(6);
  binaryKernel('add', a, [2, 3], Int32Array.from([10, 20, 30]), [3], out, [2, 3]);
  assert.deepEqual([...out], [11, 22, 33, 14, 25, 36]);
});
