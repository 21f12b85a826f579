/**
 * Depthwise 2-D conv, channels-last, stride 1, 'same' zero padding P = (K-1)/2 (CPU reference and
 * equations: cpu/depthwise-conv2d.ts). x and the output are (B, H, W, C), the weight (C, K, K).
 *
 *   forward  (thread b, h, w, c): bias[c] + Σ_{i,j} wt[c,i,j] · x[b, h+i-P, w+j-P, c]
 *   dx       (thread b, y, x, c): Σ_{i,j} g[b, y-i+P, x-j+P, c] · wt[c,i,j]  (a gather, no atomics)
 *   dw parts (thread chunk r, tap k, c): Σ over the (b, h, w) rows of chunk r of g · x[tap k]
 *            (k = K·K: g alone, for dbias); then kernels/conv-backward.ts's convDwFinalKernel adds
 *            the chunks in order, which has exactly the (C, K·K) + (C) layout needed.
 */
import { FLAT_INDEX, WG, type Kernel } from '../context.js';

/** Threads per workgroup of the dw partial sums (along channels). */
export const DWCONV2D_DW_WG = 64;

/** x[b, y, x, c] with zeros outside the image (y, x as i32). */
const XAT = /* wgsl */ `
fn xat(b: u32, y: i32, x: i32, c: u32) -> f32 {
  if (y < 0 || x < 0 || y >= i32(p.H) || x >= i32(p.W)) { return 0.0; }
  return X[((b * p.H + u32(y)) * p.W + u32(x)) * p.C + c];
}`;

export const depthwiseConv2dKernel: Kernel = {
  key: 'dwconv2d',
  code: () => /* wgsl */ `
struct P { B: u32, H: u32, W: u32, C: u32, K: u32, hasBias: u32, n: u32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;      // (B, H, W, C)
@group(0) @binding(1) var<storage, read> Wt: array<f32>;     // (C, K, K)
@group(0) @binding(2) var<storage, read> bias: array<f32>;   // (C)
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;  // (B, H, W, C)
@group(0) @binding(4) var<uniform> p: P;
${FLAT_INDEX}
${XAT}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= p.n) { return; }
  let c = i % p.C;
  let w = i32((i / p.C) % p.W);
  let h = i32((i / (p.C * p.W)) % p.H);
  let b = i / (p.C * p.W * p.H);
  let P = i32(p.K / 2u);
  var acc = 0.0;
  if (p.hasBias == 1u) { acc = bias[c]; }
  for (var ki = 0u; ki < p.K; ki++) {
    for (var kj = 0u; kj < p.K; kj++) {
      acc = fma(Wt[(c * p.K + ki) * p.K + kj], xat(b, h + i32(ki) - P, w + i32(kj) - P, c), acc);
    }
  }
  Y[i] = acc;
}`,
};

export const depthwiseConv2dDxKernel: Kernel = {
  key: 'dwconv2d_bwd_dx',
  code: () => /* wgsl */ `
struct P { B: u32, H: u32, W: u32, C: u32, K: u32, n: u32 }
@group(0) @binding(0) var<storage, read> G: array<f32>;      // (B, H, W, C)
@group(0) @binding(1) var<storage, read> Wt: array<f32>;     // (C, K, K)
@group(0) @binding(2) var<storage, read_write> DX: array<f32>; // (B, H, W, C)
@group(0) @binding(3) var<uniform> p: P;
${FLAT_INDEX}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= p.n) { return; }
  let c = i % p.C;
  let x = i32((i / p.C) % p.W);
  let y = i32((i / (p.C * p.W)) % p.H);
  let b = i / (p.C * p.W * p.H);
  let P = i32(p.K / 2u);
  var acc = 0.0;
  for (var ki = 0u; ki < p.K; ki++) {
    let h = y - i32(ki) + P;
    if (h < 0 || h >= i32(p.H)) { continue; }
    for (var kj = 0u; kj < p.K; kj++) {
      let w = x - i32(kj) + P;
      if (w < 0 || w >= i32(p.W)) { continue; }
      acc = fma(G[((b * p.H + u32(h)) * p.W + u32(w)) * p.C + c], Wt[(c * p.K + ki) * p.K + kj], acc);
    }
  }
  DX[i] = acc;
}`,
};

/** Grid (⌈C/64⌉, chunks, K·K + hasBias); partials (chunks, K·K + hasBias, C). */
export const depthwiseConv2dDwPartialKernel: Kernel = {
  key: 'dwconv2d_bwd_dw_partial',
  code: () => /* wgsl */ `
struct P { B: u32, H: u32, W: u32, C: u32, K: u32, Kb: u32, rows: u32, chunk: u32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;      // (B, H, W, C)
@group(0) @binding(1) var<storage, read> G: array<f32>;      // (B, H, W, C)
@group(0) @binding(2) var<storage, read_write> PART: array<f32>; // (chunks, Kb, C)
@group(0) @binding(3) var<uniform> p: P;
${XAT}
@compute @workgroup_size(${DWCONV2D_DW_WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let c = gid.x;
  if (c >= p.C) { return; }
  let r0 = wid.y * p.chunk;
  let r1 = min(p.rows, r0 + p.chunk);
  let tap = wid.z;
  let P = i32(p.K / 2u);
  let di = i32(tap / p.K) - P;
  let dj = i32(tap % p.K) - P;
  var acc = 0.0;
  for (var r = r0; r < r1; r++) {
    let v = G[r * p.C + c];
    if (tap < p.K * p.K) {
      let w = i32(r % p.W);
      let h = i32((r / p.W) % p.H);
      let b = r / (p.W * p.H);
      acc = fma(v, xat(b, h + di, w + dj, c), acc);
    } else {
      acc += v;
    }
  }
  PART[(wid.y * p.Kb + tap) * p.C + c] = acc;
}`,
};
