/** Elementwise kernels: unary ops, a·x+b, casts, and broadcasting binary ops (rank <= 8). */
import type { BinaryOp, UnaryOp } from '../../backend.js';
import type { DType } from '../../../tensor/dtype.js';
import { FLAT_INDEX, WG, type Kernel } from '../context.js';
import { weightBinding } from './weights.js';

const UNARY_WGSL: Record<UnaryOp, string> = {
  neg: '-v',
  exp: 'exp(v)',
  log: 'log(v)',
  sqrt: 'sqrt(v)',
  rsqrt: 'inverseSqrt(v)',
  abs: 'abs(v)',
  relu: 'max(v, 0.0)',
  sigmoid: '1.0 / (1.0 + exp(-v))',
  tanh: 'tanh(v)',
  silu: 'v / (1.0 + exp(-v))',
  softplus: 'select(log(1.0 + exp(v)), v, v > 20.0)',
  gelu: '0.5 * v * (1.0 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)))',
};

export function unaryKernel(op: UnaryOp): Kernel {
  return {
    key: `unary_${op}`,
    code: () => /* wgsl */ `
struct P { n: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: P;
${FLAT_INDEX}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= p.n) { return; }
  let v = x[i];
  y[i] = ${UNARY_WGSL[op]};
}`,
  };
}

export const affineKernel: Kernel = {
  key: 'affine',
  code: () => /* wgsl */ `
struct P { n: u32, a: f32, b: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: P;
${FLAT_INDEX}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= p.n) { return; }
  y[i] = p.a * x[i] + p.b;
}`,
};

/**
 * y = x converted to `to`: i32 ↔ f32, or a packed bf16/f16 weight unpacked to f32 (training
 * updates f32 values).
 */
export function castKernel(from: DType, to: 'f32' | 'i32'): Kernel {
  const half = from === 'bf16' || from === 'f16';
  if (half ? to !== 'f32' : from === to) throw new Error(`webgpu: no cast kernel from ${from} to ${to}`);
  const decl = half ? weightBinding('x', 0, from) : `@group(0) @binding(0) var<storage, read> x: array<${from}>;`;
  const conv = half ? 'x_at(i)' : to === 'f32' ? 'f32(x[i])' : 'i32(trunc(x[i]))';
  return {
    key: `cast_${from}_${to}`,
    code: () => /* wgsl */ `
struct P { n: u32 }
${decl}
@group(0) @binding(1) var<storage, read_write> y: array<${to}>;
@group(0) @binding(2) var<uniform> p: P;
${FLAT_INDEX}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= p.n) { return; }
  y[i] = ${conv};
}`,
  };
}

const BINARY_WGSL: Record<BinaryOp, string> = {
  add: 'a + b',
  sub: 'a - b',
  mul: 'a * b',
  div: 'a / b',
  max: 'max(a, b)',
  min: 'min(a, b)',
  pow: 'pow(a, b)',
  // s + x·s·(1 − s) as s·(1 + x·(1 − s)), s = sigmoid(b); exp(−b) overflows to inf for b < −88,
  // giving s = 0 and a·0 = 0 (not NaN: 1 + x·1 stays finite).
  siluGrad: 'a * (1.0 / (1.0 + exp(-b))) * (1.0 + b * (1.0 - 1.0 / (1.0 + exp(-b))))',
};

/**
 * out[i] = a[ia] ∘ b[ib], where ia and ib follow broadcast strides (0 on broadcast axes).
 * Uniform: n, rank, then the output shape and both stride lists as 8-entry vectors.
 */
export function binaryKernel(op: BinaryOp, dtype: 'f32' | 'i32'): Kernel {
  const expr = dtype === 'i32' && op === 'pow' ? 'i32(pow(f32(a), f32(b)))' : BINARY_WGSL[op];
  return {
    key: `binary_${op}_${dtype}`,
    code: () => /* wgsl */ `
struct P { n: u32, rank: u32, _a: u32, _b: u32, shape: array<vec4<u32>, 2>, sa: array<vec4<u32>, 2>, sb: array<vec4<u32>, 2> }
@group(0) @binding(0) var<storage, read> A: array<${dtype}>;
@group(0) @binding(1) var<storage, read> B: array<${dtype}>;
@group(0) @binding(2) var<storage, read_write> Y: array<${dtype}>;
@group(0) @binding(3) var<uniform> p: P;
${FLAT_INDEX}
fn at(v: array<vec4<u32>, 2>, d: u32) -> u32 { return v[d / 4u][d % 4u]; }
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= p.n) { return; }
  var rest = i;
  var ia = 0u;
  var ib = 0u;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let ud = u32(d);
    let c = rest % at(p.shape, ud);
    rest = rest / at(p.shape, ud);
    ia += c * at(p.sa, ud);
    ib += c * at(p.sb, ud);
  }
  let a = A[ia];
  let b = B[ib];
  Y[i] = ${expr};
}`,
  };
}
