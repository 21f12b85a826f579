/**
 * One strided copy serves slice, concat and transpose: for each output-order index (shape, rank
 * <= 8), src = srcOffset + Σ idx·srcStride and dst = dstOffset + Σ idx·dstStride. Values are moved
 * as 32-bit words, so f32 and i32 share the kernel.
 */
import { FLAT_INDEX, WG, type Kernel } from '../context.js';

export const stridedCopyKernel: Kernel = {
  key: 'strided_copy',
  code: () => /* wgsl */ `
struct P { n: u32, rank: u32, srcOffset: u32, dstOffset: u32, shape: array<vec4<u32>, 2>, ss: array<vec4<u32>, 2>, ds: array<vec4<u32>, 2> }
@group(0) @binding(0) var<storage, read> X: array<u32>;
@group(0) @binding(1) var<storage, read_write> Y: array<u32>;
@group(0) @binding(2) var<uniform> p: P;
${FLAT_INDEX}
fn at(v: array<vec4<u32>, 2>, d: u32) -> u32 { return v[d / 4u][d % 4u]; }
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= p.n) { return; }
  var rest = i;
  var s = p.srcOffset;
  var t = p.dstOffset;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let ud = u32(d);
    let c = rest % at(p.shape, ud);
    rest = rest / at(p.shape, ud);
    s += c * at(p.ss, ud);
    t += c * at(p.ds, ud);
  }
  Y[t] = X[s];
}`,
};
