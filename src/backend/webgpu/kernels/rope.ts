/**
 * Rotary position embedding (contract: ops/rope.ts; reference: cpu/rope.ts `ropeKernel`). One
 * thread per rotated pair (row, head, i < hd/2): θ = f32(position) · invFreq[i], the same float32
 * product HF takes, reduced to about [−π, π] before cos/sin.
 *
 * Why the reduction: WGSL promises cos/sin accuracy only on [−π, π], and GPUs' fast cos/sin lose
 * accuracy with the argument's size (θ reaches the context length in radians for i = 0). The
 * Cody–Waite split of 2π into 6.28125 (8 significant bits, so k·6.28125 is exact for k < 2^16)
 * and the float32 rest keeps the reduced angle within a few 1e-6 of exact for θ below 2^16·2π
 * (≈ 411,000: positions up to that many tokens at i = 0).
 */
import { FLAT_INDEX, WG, type Kernel } from '../context.js';

export const ropeKernel: Kernel = {
  key: 'rope',
  code: () => /* wgsl */ `
struct P { n: u32, heads: u32, half: u32, inverse: u32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;        // (B·L, heads, 2·half)
@group(0) @binding(1) var<storage, read> pos: array<i32>;      // (B·L)
@group(0) @binding(2) var<storage, read> invFreq: array<f32>;  // (half)
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;  // like X
@group(0) @binding(4) var<uniform> p: P;
${FLAT_INDEX}
fn reduced(a: f32) -> f32 {
  let k = round(a * 0.15915494309189535);
  return (a - k * 6.28125) - k * 0.0019353071795864769;
}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = flatIndex(gid, nwg);
  if (k >= p.n) { return; }
  let i = k % p.half;
  let rh = k / p.half;           // row · heads + head
  let row = rh / p.heads;
  let r = reduced(f32(pos[row]) * invFreq[i]);
  let c = cos(r);
  var s = sin(r);
  if (p.inverse == 1u) { s = -s; }
  let o = rh * 2u * p.half;
  let x1 = X[o + i];
  let x2 = X[o + p.half + i];
  Y[o + i] = x1 * c - x2 * s;
  Y[o + p.half + i] = x2 * c + x1 * s;
}`,
};
