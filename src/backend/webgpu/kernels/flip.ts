/**
 * Reverses one axis: viewing x as (outer, dim, inner), Y[o, i, j] = X[o, dim-1-i, j]. Values move
 * as 32-bit words, so f32 and i32 share the kernel. Reference: cpu/shape-kernels.ts `flipKernel`.
 */
import { FLAT_INDEX, WG, type Kernel } from '../context.js';

export const flipKernel: Kernel = {
  key: 'flip',
  code: () => /* wgsl */ `
struct P { n: u32, dim: u32, inner: u32 }
@group(0) @binding(0) var<storage, read> X: array<u32>; // (outer, dim, inner)
@group(0) @binding(1) var<storage, read_write> Y: array<u32>; // (outer, dim, inner)
@group(0) @binding(2) var<uniform> p: P;
${FLAT_INDEX}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = flatIndex(gid, nwg);
  if (k >= p.n) { return; }
  let j = k % p.inner;
  let i = (k / p.inner) % p.dim;
  let o = k / (p.inner * p.dim);
  Y[k] = X[(o * p.dim + (p.dim - 1u - i)) * p.inner + j];
}`,
};
