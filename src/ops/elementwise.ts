/** Elementwise ops (float32), with NumPy broadcasting for the binary ones. */
import type { BinaryOp, UnaryOp } from '../backend/backend.js';
import { isHalf } from '../tensor/dtype.js';
import { broadcastShapes } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { expectDtype, sameBackend } from './check.js';
import { UnsupportedError } from '../errors.js';
import { record, saveForBackward, shouldRecord } from '../autograd/tape.js';
import { sumToShape } from '../autograd/backward.js';

function unary(op: UnaryOp, x: Tensor): Tensor {
  sameBackend(op, x);
  expectDtype(op, 'x', x, 'f32');
  const y = x.backend.unary(op, x);
  if (shouldRecord(x)) recordUnary(op, x, y);
  return y;
}

function binary(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  sameBackend(op, a, b);
  if (a.dtype !== b.dtype) expectDtype(op, 'b', b, a.dtype);
  if (isHalf(a.dtype)) expectDtype(op, 'a', a, 'f32');
  const y = a.backend.binary(op, a, b, broadcastShapes(a.shape, b.shape, op));
  if (shouldRecord(a, b)) recordBinary(op, a, b);
  return y;

  function recordBinary(o: BinaryOp, x: Tensor, z: Tensor): void {
    const [sa, sb] = [saveForBackward(x), saveForBackward(z)];
    const rule = BINARY_RULES[o];
    if (!rule) throw new UnsupportedError(`${o}: no backward rule yet`);
    record(o, [x, z], [y], ([g]) => rule(g!, sa, sb), [sa, sb]);
  }
}

/** d(a ∘ b)/da and /db, each summed back to its input's shape (broadcasting). */
const BINARY_RULES: Partial<Record<BinaryOp, (g: Tensor, a: Tensor, b: Tensor) => [Tensor, Tensor]>> = {
  add: (g, a, b) => [sumToShape(g, a.shape), sumToShape(g, b.shape)],
  sub: (g, a, b) => [sumToShape(g, a.shape), sumToShape(neg(g), b.shape)],
  mul: (g, a, b) => [sumToShape(mul(g, b), a.shape), sumToShape(mul(g, a), b.shape)],
  div: (g, a, b) => [sumToShape(div(g, b), a.shape), sumToShape(neg(div(mul(g, a), mul(b, b))), b.shape)],
};

/** dy/dx · g for y = op(x), from the saved x (and y where that is simpler). */
const UNARY_RULES: Partial<Record<UnaryOp, (g: Tensor, x: Tensor, y: Tensor) => Tensor>> = {
  neg: (g) => neg(g),
  exp: (g, _x, y) => mul(g, y),
  log: (g, x) => div(g, x),
  sqrt: (g, _x, y) => div(scale(g, 0.5), y),
  rsqrt: (g, _x, y) => mul(g, scale(mul(y, mul(y, y)), -0.5)),
  sigmoid: (g, _x, y) => mul(g, mul(y, affine(y, -1, 1))),
  tanh: (g, _x, y) => mul(g, affine(mul(y, y), -1, 1)),
  // g · silu'(x) = g · (s + x·s·(1 − s)), s = sigmoid(x), in one pass (instead of six ops).
  silu: (g, x) => binary('siluGrad', g, x),
  softplus: (g, x) => mul(g, sigmoid(x)),
};

function recordUnary(op: UnaryOp, x: Tensor, y: Tensor): void {
  const rule = UNARY_RULES[op];
  if (!rule) throw new UnsupportedError(`${op}: no backward rule yet`);
  const [sx, sy] = [saveForBackward(x), saveForBackward(y)];
  record(op, [x], [y], ([g]) => [rule(g!, sx, sy)], [sx, sy]);
}

export const neg = (x: Tensor) => unary('neg', x);
export const exp = (x: Tensor) => unary('exp', x);
export const log = (x: Tensor) => unary('log', x);
export const sqrt = (x: Tensor) => unary('sqrt', x);
export const rsqrt = (x: Tensor) => unary('rsqrt', x);
export const abs = (x: Tensor) => unary('abs', x);
export const relu = (x: Tensor) => unary('relu', x);
export const sigmoid = (x: Tensor) => unary('sigmoid', x);
export const tanh = (x: Tensor) => unary('tanh', x);
/** x · sigmoid(x). */
export const silu = (x: Tensor) => unary('silu', x);
/** log(1 + eˣ), exactly x above 20 (as the Mamba kernels). */
export const softplus = (x: Tensor) => unary('softplus', x);
/** tanh approximation (HF "gelu_pytorch_tanh"). */
export const gelu = (x: Tensor) => unary('gelu', x);

export const add = (a: Tensor, b: Tensor) => binary('add', a, b);
export const sub = (a: Tensor, b: Tensor) => binary('sub', a, b);
export const mul = (a: Tensor, b: Tensor) => binary('mul', a, b);
export const div = (a: Tensor, b: Tensor) => binary('div', a, b);
export const maximum = (a: Tensor, b: Tensor) => binary('max', a, b);
export const minimum = (a: Tensor, b: Tensor) => binary('min', a, b);
export const pow = (a: Tensor, b: Tensor) => binary('pow', a, b);

/** a·x + b with scalars. */
export function affine(x: Tensor, a: number, b = 0): Tensor {
  sameBackend('affine', x);
  expectDtype('affine', 'x', x, 'f32');
  const y = x.backend.affine(x, a, b);
  if (shouldRecord(x)) record('affine', [x], [y], ([g]) => [affine(g!, a, 0)]);
  return y;
}
export const scale = (x: Tensor, s: number) => affine(x, s, 0);
