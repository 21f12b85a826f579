/**
 * Elementwise kernels over flat arrays (the CPU reference). Each op has its own loop: a function
 * picked from a table and called per element stays a megamorphic call that V8 cannot inline, which
 * measured 19× slower than these loops.
 */
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
function gelu(x: number): number {
  return 0.5 * x * (1 + Math.tanh(GELU_C * (x + 0.044715 * x * x * x)));
}

export function unaryKernel(op: UnaryOp, x: Float32Array, out: Float32Array): void {
  const n = x.length;
  switch (op) {
    case 'neg': for (let i = 0; i < n; i++) out[i] = -x[i]!; return;
    case 'exp': for (let i = 0; i < n; i++) out[i] = Math.exp(x[i]!); return;
    case 'log': for (let i = 0; i < n; i++) out[i] = Math.log(x[i]!); return;
    case 'sqrt': for (let i = 0; i < n; i++) out[i] = Math.sqrt(x[i]!); return;
    case 'rsqrt': for (let i = 0; i < n; i++) out[i] = 1 / Math.sqrt(x[i]!); return;
    case 'abs': for (let i = 0; i < n; i++) out[i] = Math.abs(x[i]!); return;
    case 'relu': for (let i = 0; i < n; i++) out[i] = x[i]! > 0 ? x[i]! : 0; return;
    case 'sigmoid': for (let i = 0; i < n; i++) out[i] = sigmoid(x[i]!); return;
    case 'tanh': for (let i = 0; i < n; i++) out[i] = Math.tanh(x[i]!); return;
    case 'silu': for (let i = 0; i < n; i++) out[i] = silu(x[i]!); return;
    case 'softplus': for (let i = 0; i < n; i++) out[i] = softplus(x[i]!); return;
    case 'gelu': for (let i = 0; i < n; i++) out[i] = gelu(x[i]!); return;
  }
}

type Arr = Float32Array | Int32Array;
/** out[o + i] = a[ai + i·sa] op b[bi + i·sb] for i < n; strides sa, sb are 0 (broadcast) or 1. */
type Run = (a: Arr, ai: number, sa: number, b: Arr, bi: number, sb: number, out: Arr, o: number, n: number) => void;

// One function per op so that each loop's arithmetic is inlined.
const runs: Record<BinaryOp, Run> = {
  add: (a, ai, sa, b, bi, sb, out, o, n) => {
    for (let i = 0; i < n; i++) out[o + i] = a[ai + i * sa]! + b[bi + i * sb]!;
  },
  sub: (a, ai, sa, b, bi, sb, out, o, n) => {
    for (let i = 0; i < n; i++) out[o + i] = a[ai + i * sa]! - b[bi + i * sb]!;
  },
  mul: (a, ai, sa, b, bi, sb, out, o, n) => {
    for (let i = 0; i < n; i++) out[o + i] = a[ai + i * sa]! * b[bi + i * sb]!;
  },
  div: (a, ai, sa, b, bi, sb, out, o, n) => {
    for (let i = 0; i < n; i++) out[o + i] = a[ai + i * sa]! / b[bi + i * sb]!;
  },
  max: (a, ai, sa, b, bi, sb, out, o, n) => {
    for (let i = 0; i < n; i++) {
      const x = a[ai + i * sa]!;
      const y = b[bi + i * sb]!;
      out[o + i] = x > y || Number.isNaN(x) ? x : y;
    }
  },
  min: (a, ai, sa, b, bi, sb, out, o, n) => {
    for (let i = 0; i < n; i++) {
      const x = a[ai + i * sa]!;
      const y = b[bi + i * sb]!;
      out[o + i] = x < y || Number.isNaN(x) ? x : y;
    }
  },
  siluGrad: (a, ai, sa, b, bi, sb, out, o, n) => {
    for (let i = 0; i < n; i++) {
      const x = b[bi + i * sb]!;
      const s = sigmoid(x);
      out[o + i] = a[ai + i * sa]! * (s + x * s * (1 - s));
    }
  },
  pow: (a, ai, sa, b, bi, sb, out, o, n) => {
    for (let i = 0; i < n; i++) out[o + i] = Math.pow(a[ai + i * sa]!, b[bi + i * sb]!);
  },
};

/** Broadcast strides of `shape` against `outShape` (0 on broadcast axes). */
function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const s = stridesOf(shape);
  const off = outShape.length - shape.length;
  return outShape.map((d, i) => (i < off || shape[i - off] === 1 ? 0 : s[i - off]!));
}

/**
 * NumPy-broadcast a op b. Axes are merged wherever both inputs continue contiguously (or both stay
 * broadcast), so that the common cases (same shape, a row or a column broadcast) run as few long
 * runs; the innermost axis is one run with stride 0 or 1 per input.
 */
export function binaryKernel(op: BinaryOp, a: Arr, aShape: Shape, b: Arr, bShape: Shape, out: Arr, outShape: Shape): void {
  const run = runs[op];
  const n = out.length;
  if (n === 0) return;
  if (a.length === n && b.length === n) {
    run(a, 0, 1, b, 0, 1, out, 0, n);
    return;
  }
  // Merged axes, innermost first: size, a stride, b stride.
  const as0 = broadcastStrides(aShape, outShape);
  const bs0 = broadcastStrides(bShape, outShape);
  const dims: number[] = [];
  const as: number[] = [];
  const bs: number[] = [];
  for (let d = outShape.length - 1; d >= 0; d--) {
    const size = outShape[d]!;
    if (size === 1) continue;
    const k = dims.length - 1;
    if (k >= 0 && as0[d] === as[k]! * dims[k]! && bs0[d] === bs[k]! * dims[k]!) {
      dims[k]! *= size;
      continue;
    }
    dims.push(size);
    as.push(as0[d]!);
    bs.push(bs0[d]!);
  }
  if (dims.length === 0) {
    run(a, 0, 0, b, 0, 0, out, 0, 1);
    return;
  }
  const inner = dims[0]!;
  // 0 (broadcast) or 1: the innermost axis of a contiguous input has stride 1, and merging keeps it.
  const sa = as[0]!;
  const sb = bs[0]!;
  const rank = dims.length;
  const idx = new Array<number>(rank).fill(0);
  let ai = 0;
  let bi = 0;
  for (let o = 0; o < n; o += inner) {
    run(a, ai, sa, b, bi, sb, out, o, inner);
    // Odometer over the outer merged axes, moving the input offsets along.
    for (let d = 1; d < rank; d++) {
      idx[d]!++;
      ai += as[d]!;
      bi += bs[d]!;
      if (idx[d]! < dims[d]!) break;
      ai -= as[d]! * dims[d]!;
      bi -= bs[d]! * dims[d]!;
      idx[d] = 0;
    }
  }
}
