/** Elementwise ops (float32), with NumPy broadcasting for the binary ones. */
import type { BinaryOp, UnaryOp } from '../backend/backend.js';
import { isHalf } from '../tensor/dtype.js';
import { broadcastShapes } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { expectDtype, sameBackend } from './check.js';

function unary(op: UnaryOp, x: Tensor): Tensor {
  sameBackend(op, x);
  expectDtype(op, 'x', x, 'f32');
  return x.backend.unary(op, x);
}

function binary(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  sameBackend(op, a, b);
  if (a.dtype !== b.dtype) expectDtype(op, 'b', b, a.dtype);
  if (isHalf(a.dtype)) expectDtype(op, 'a', a, 'f32');
  return a.backend.binary(op, a, b, broadcastShapes(a.shape, b.shape, op));
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
  return x.backend.affine(x, a, b);
}
export const scale = (x: Tensor, s: number) => affine(x, s, 0);
