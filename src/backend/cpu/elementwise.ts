/** Elementwise kernels over flat arrays (the CPU reference). */
import type { BinaryOp, UnaryOp } from '../backend.js';
import { stridesOf, type Shape } from '../../tensor/shape.js';

export function softplus(x: number): number {
  return x > 20 ? x : Math.log1p(Math.exp(x));
}
export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}
export function silu(x: number): number {
  return x / (1 + Math.exp(-x));
}

const GELU_C = Math.sqrt(2 / Math.PI);
const unaryFns: Record<UnaryOp, (x: number) => number> = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  abs: Math.abs,
  relu: (x) => (x > 0 ? x : 0),
  sigmoid,
  tanh: Math.tanh,
  silu,
  softplus,
  gelu: (x) => 0.5 * x * (1 + Math.tanh(GELU_C * (x + 0.044715 * x * x * x))),
};

export function unaryKernel(op: UnaryOp, x: Float32Array, out: Float32Array): void {
  const f = unaryFns[op];
  for (let i = 0; i < x.length; i++) out[i] = f(x[i]!);
}

const binaryFns: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  max: (a, b) => (a > b || Number.isNaN(a) ? a : b),
  min: (a, b) => (a < b || Number.isNaN(a) ? a : b),
  pow: Math.pow,
};

/** Broadcast strides of `shape` against `outShape` (0 on broadcast axes). */
function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const s = stridesOf(shape);
  const off = outShape.length - shape.length;
  return outShape.map((d, i) => (i < off || shape[i - off] === 1 ? 0 : s[i - off]!));
}

export function binaryKernel(
  op: BinaryOp,
  a: Float32Array | Int32Array,
  aShape: Shape,
  b: Float32Array | Int32Array,
  bShape: Shape,
  out: Float32Array | Int32Array,
  outShape: Shape,
): void {
  const f = binaryFns[op];
  const n = out.length;
  // Fast paths: same shape, or b a scalar / a row broadcast over leading axes.
  if (a.length === n && b.length === n) {
    for (let i = 0; i < n; i++) out[i] = f(a[i]!, b[i]!);
    return;
  }
  if (a.length === n && n % b.length === 0 && isTrailingBroadcast(bShape, outShape)) {
    const m = b.length;
    for (let i = 0; i < n; i++) out[i] = f(a[i]!, b[i % m]!);
    return;
  }
  const as = broadcastStrides(aShape, outShape);
  const bs = broadcastStrides(bShape, outShape);
  const rank = outShape.length;
  const idx = new Array<number>(rank).fill(0);
  let ai = 0;
  let bi = 0;
  for (let i = 0; i < n; i++) {
    out[i] = f(a[ai]!, b[bi]!);
    // Odometer increment over the output index, moving the input offsets along.
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      ai += as[d]!;
      bi += bs[d]!;
      if (idx[d]! < outShape[d]!) break;
      ai -= as[d]! * outShape[d]!;
      bi -= bs[d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
}

/** True when `shape` equals the trailing axes of `outShape` (after dropping leading 1s). */
function isTrailingBroadcast(shape: Shape, outShape: Shape): boolean {
  let s = 0;
  while (s < shape.length && shape[s] === 1) s++;
  const tail = shape.slice(s);
  const off = outShape.length - tail.length;
  return off >= 0 && tail.every((d, i) => d === outShape[off + i]);
}
