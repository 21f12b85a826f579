/** Reverse along one axis: x viewed as (outer, n, inner), out[o, j, k] = x[o, n-1-j, k]. */
import { FLAT_INDEX, WG, type Kernel } from '../context.js';

/** One thread per element; `type` is the element type (f32 or i32), the bits are only moved. */
export function flipKernel(type: 'f32' | 'i32'): Kernel {
  return {
    key: `flip_${type}`,
    code: () => /* wgsl */ `
struct P { size: u32, n: u32, inner: u32 }
@group(0) @binding(0) var<storage, read> X: array<${type}>;        // (outer, n, inner)
@group(0) @binding(1) var<storage, read_write> Y: array<${type}>;  // (outer, n, inner)
@group(0) @binding(2) var<uniform> p: P;
${FLAT_INDEX}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= p.size) { return; }
  let k = i % p.inner;
  let j = (i / p.inner) % p.n;
  let o = i / (p.inner * p.n);
  Y[i] = X[(o * p.n + p.n - 1u - j) * p.inner + k];
}`,
  };
}
