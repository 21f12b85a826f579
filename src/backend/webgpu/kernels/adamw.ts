/**
 * The fused AdamW's kernels (webgpu/fused-adamw.ts): over one flat buffer of all gradients, of all
 * parameters and of all moments, so that a step is three launches whatever the parameter count,
 * and the clip's scale never leaves the device.
 *
 * adamwFlatKernel computes each term as the one-op-per-term update does (train/adamw.ts, each op
 * one of the elementwise kernels), with the same float32 constants, so that the two agree to the
 * bit where the compiler does not contract a product and a sum into a fused multiply-add (which
 * WGSL allows it to do; lavapipe agrees to the bit, see test/fused-optimizer.test.ts).
 */
import { FLAT_INDEX, WG, type Kernel } from '../context.js';

/** Workgroups of the sum-of-squares pass (each loops over its share): one final workgroup sums them. */
export const SUMSQ_GROUPS = 256;

const FINITE = /* wgsl */ `
fn finite(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u; }
`;

/** partial[w] = Σ g² over the elements i ≡ this workgroup's threads (mod groups · WG). */
export const sumSquaresPartialKernel: Kernel = {
  key: 'adamw-sumsq-partial',
  code: () => /* wgsl */ `
struct P { n: u32 }
@group(0) @binding(0) var<storage, read> g: array<f32>;
@group(0) @binding(1) var<storage, read_write> partial: array<f32>;
@group(0) @binding(2) var<uniform> p: P;
var<workgroup> acc: array<f32, ${WG}>;
@compute @workgroup_size(${WG}) fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  var s = 0.0;
  let stride = nwg.x * ${WG}u;
  for (var i = wid.x * ${WG}u + lid.x; i < p.n; i += stride) {
    let x = g[i];
    s += x * x;
  }
  acc[lid.x] = s;
  workgroupBarrier();
  for (var k = ${WG / 2}u; k > 0u; k >>= 1u) {
    if (lid.x < k) { acc[lid.x] += acc[lid.x + k]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) { partial[wid.x] = acc[0]; }
}`,
};

/**
 * One workgroup: norm = √Σ partial; stats = [norm, scale, ok], scale = maxNorm / (norm + 1e-6)
 * where clipping (p.clip = 1) and norm > maxNorm, else 1; ok = 1 where the norm is finite.
 */
export const clipScaleKernel: Kernel = {
  key: 'adamw-clip-scale',
  code: () => /* wgsl */ `
struct P { groups: u32, clip: u32, maxNorm: f32 }
@group(0) @binding(0) var<storage, read> partial: array<f32>;
@group(0) @binding(1) var<storage, read_write> stats: array<f32>;
@group(0) @binding(2) var<storage, read_write> gradNorm: array<f32>;
@group(0) @binding(3) var<uniform> p: P;
var<workgroup> acc: array<f32, ${WG}>;
${FINITE}
@compute @workgroup_size(${WG}) fn main(@builtin(local_invocation_id) lid: vec3<u32>) {
  var s = 0.0;
  for (var i = lid.x; i < p.groups; i += ${WG}u) { s += partial[i]; }
  acc[lid.x] = s;
  workgroupBarrier();
  for (var k = ${WG / 2}u; k > 0u; k >>= 1u) {
    if (lid.x < k) { acc[lid.x] += acc[lid.x + k]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) {
    let norm = sqrt(acc[0]);
    var scale = 1.0;
    if (p.clip == 1u && norm > p.maxNorm) { scale = p.maxNorm / (norm + 1e-6); }
    stats[0] = norm;
    stats[1] = scale;
    stats[2] = select(0.0, 1.0, finite(norm));
    gradNorm[0] = norm;
  }
}`,
};

/**
 * One AdamW step over the flat buffers. segs holds the k parameters' element offsets (k + 1
 * entries) then their flags (bit 0: decayed, bit 1: has a gradient this step); hyper the step's
 * [lr, 1/correction1, 1/correction2, decayFactor]; stats the clip's [norm, scale, ok].
 */
export const adamwFlatKernel: Kernel = {
  key: 'adamw-flat',
  code: () => /* wgsl */ `
struct P { n: u32, k: u32, b1: f32, ob1: f32, b2: f32, ob2: f32, eps: f32 }
@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> m1: array<f32>;
@group(0) @binding(3) var<storage, read_write> m2: array<f32>;
@group(0) @binding(4) var<storage, read> segs: array<u32>;
@group(0) @binding(5) var<storage, read> hyper: array<f32>;
@group(0) @binding(6) var<storage, read> stats: array<f32>;
@group(0) @binding(7) var<uniform> p: P;
${FLAT_INDEX}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= p.n || stats[2] == 0.0) { return; }
  // The parameter holding element i: the last segment starting at or before it.
  var lo = 0u;
  var hi = p.k;
  while (hi - lo > 1u) {
    let mid = (lo + hi) / 2u;
    if (segs[mid] <= i) { lo = mid; } else { hi = mid; }
  }
  let flags = segs[p.k + 1u + lo];
  if ((flags & 2u) == 0u) { return; }
  let g = grad[i] * stats[1];
  let m = p.b1 * m1[i] + p.ob1 * g;
  let v = p.b2 * m2[i] + p.ob2 * (g * g);
  let den = sqrt(hyper[2] * v) + p.eps;
  let dir = (hyper[1] * m) / den;
  let w = select(param[i], hyper[3] * param[i], (flags & 1u) == 1u);
  param[i] = w - hyper[0] * dir;
  m1[i] = m;
  m2[i] = v;
}`,
};
