/**
 * Backward of the depthwise causal conv (layers.ts causalConvKernel; CPU: cpu/conv-backward.ts).
 * With xpad = state (S = K-1 columns) ++ x and pre[b,t,d] = bias[d] + Σ_k w[d,k]·xpad[b,t+k,d]:
 *
 *   1. dpre     (thread b, t, d): g · silu'(pre). Skipped without silu (dpre is then g itself).
 *   2. dx       (thread b, j, d), j over xpad: Σ_k dpre[b, j-k, d]·w[d,k] (+ gState[b, d, j-L]),
 *               written to dx for j ≥ S and to dstate for j < S. A gather, so no atomics.
 *   3. dw parts (thread chunk c, k, d): Σ over the (b, t) rows of chunk c of dpre·xpad[t+k]
 *               (k = K: dpre alone, for dbias). Neighbouring threads read neighbouring channels.
 *   4. dw       (thread k, d): the chunks' partial sums added in chunk order (deterministic).
 */
import { FLAT_INDEX, WG, type Kernel } from '../context.js';

/** Threads per workgroup of step 3 (along channels). */
export const CONV_DW_WG = 64;

/** xpad[b, j, d] for j in [0, K-1+L): needs X, S0 and p.{L, D, K, hasState}. */
const XPAD = /* wgsl */ `
fn xpad(b: u32, j: u32, d: u32) -> f32 {
  let S = p.K - 1u;
  if (j >= S) { return X[(b * p.L + j - S) * p.D + d]; }
  if (p.hasState == 1u) { return S0[(b * p.D + d) * S + j]; }
  return 0.0;
}`;

/** Step 1: dpre = g · silu'(pre), silu'(x) = σ(x)·(1 + x·(1 - σ(x))). */
export const convDpreKernel: Kernel = {
  key: 'conv_bwd_dpre',
  code: () => /* wgsl */ `
struct P { B: u32, L: u32, D: u32, K: u32, hasBias: u32, hasState: u32, n: u32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;      // (B, L, D)
@group(0) @binding(1) var<storage, read> Wt: array<f32>;     // (D, K)
@group(0) @binding(2) var<storage, read> bias: array<f32>;   // (D)
@group(0) @binding(3) var<storage, read> S0: array<f32>;     // (B, D, K-1)
@group(0) @binding(4) var<storage, read> G: array<f32>;      // (B, L, D)
@group(0) @binding(5) var<storage, read_write> DP: array<f32>; // (B, L, D)
@group(0) @binding(6) var<uniform> p: P;
${FLAT_INDEX}
${XPAD}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= p.n) { return; }
  let d = i % p.D;
  let t = (i / p.D) % p.L;
  let b = i / (p.D * p.L);
  var pre = 0.0;
  if (p.hasBias == 1u) { pre = bias[d]; }
  for (var k = 0u; k < p.K; k++) { pre = fma(Wt[d * p.K + k], xpad(b, t + k, d), pre); }
  let sg = 1.0 / (1.0 + exp(-pre));
  DP[i] = G[i] * sg * (1.0 + pre * (1.0 - sg));
}`,
};

/** Step 2: one thread per xpad position; n = B·(S+L)·D. */
export const convDxKernel: Kernel = {
  key: 'conv_bwd_dx',
  code: () => /* wgsl */ `
struct P { B: u32, L: u32, D: u32, K: u32, hasState: u32, hasGState: u32, n: u32 }
@group(0) @binding(0) var<storage, read> DP: array<f32>;     // (B, L, D)
@group(0) @binding(1) var<storage, read> Wt: array<f32>;     // (D, K)
@group(0) @binding(2) var<storage, read> GS: array<f32>;     // (B, D, K-1)
@group(0) @binding(3) var<storage, read_write> DX: array<f32>; // (B, L, D)
@group(0) @binding(4) var<storage, read_write> DS: array<f32>; // (B, D, K-1)
@group(0) @binding(5) var<uniform> p: P;
${FLAT_INDEX}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= p.n) { return; }
  let S = p.K - 1u;
  let J = S + p.L;
  let d = i % p.D;
  let j = (i / p.D) % J;
  let b = i / (p.D * J);
  var acc = 0.0;
  // The new state is xpad[L..]: its gradient lands on those positions.
  if (p.hasGState == 1u && j >= p.L) { acc = GS[(b * p.D + d) * S + j - p.L]; }
  // Output t = j - k reads xpad[j] through w[d, k]; k descending visits t in ascending order.
  for (var kk = p.K; kk > 0u; kk--) {
    let k = kk - 1u;
    if (j >= k && j - k < p.L) { acc = fma(DP[(b * p.L + j - k) * p.D + d], Wt[d * p.K + k], acc); }
  }
  if (j >= S) {
    DX[(b * p.L + j - S) * p.D + d] = acc;
  } else if (p.hasState == 1u) {
    DS[(b * p.D + d) * S + j] = acc;
  }
}`,
};

/**
 * Step 3: grid (⌈D/64⌉, chunks, Kb) with Kb = K (+1 with a bias). Partials (chunks, Kb, D).
 * Rows are the flattened (b, t) pairs; a chunk holds p.chunk of them.
 */
export const convDwPartialKernel: Kernel = {
  key: 'conv_bwd_dw_partial',
  code: () => /* wgsl */ `
struct P { B: u32, L: u32, D: u32, K: u32, hasState: u32, Kb: u32, rows: u32, chunk: u32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;      // (B, L, D)
@group(0) @binding(1) var<storage, read> S0: array<f32>;     // (B, D, K-1)
@group(0) @binding(2) var<storage, read> DP: array<f32>;     // (B, L, D)
@group(0) @binding(3) var<storage, read_write> PART: array<f32>; // (chunks, Kb, D)
@group(0) @binding(4) var<uniform> p: P;
${XPAD}
@compute @workgroup_size(${CONV_DW_WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let d = gid.x;
  if (d >= p.D) { return; }
  let c = wid.y;
  let k = wid.z;
  let r0 = c * p.chunk;
  let r1 = min(p.rows, r0 + p.chunk);
  var acc = 0.0;
  for (var r = r0; r < r1; r++) {
    let v = DP[r * p.D + d];
    if (k < p.K) { acc = fma(v, xpad(r / p.L, r % p.L + k, d), acc); } else { acc += v; }
  }
  PART[(c * p.Kb + k) * p.D + d] = acc;
}`,
};

/** Step 4: one thread per (k, d), n = Kb·D; k = K is dbias. */
export const convDwFinalKernel: Kernel = {
  key: 'conv_bwd_dw_final',
  code: () => /* wgsl */ `
struct P { D: u32, K: u32, Kb: u32, chunks: u32, n: u32 }
@group(0) @binding(0) var<storage, read> PART: array<f32>;   // (chunks, Kb, D)
@group(0) @binding(1) var<storage, read_write> DW: array<f32>; // (D, K)
@group(0) @binding(2) var<storage, read_write> DB: array<f32>; // (D)
@group(0) @binding(3) var<uniform> p: P;
${FLAT_INDEX}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= p.n) { return; }
  let d = i % p.D;
  let k = i / p.D;
  var acc = 0.0;
  for (var c = 0u; c < p.chunks; c++) { acc += PART[(c * p.Kb + k) * p.D + d]; }
  if (k < p.K) { DW[d * p.K + k] = acc; } else { DB[d] = acc; }
}`,
};
