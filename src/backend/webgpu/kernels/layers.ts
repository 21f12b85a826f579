/** Embedding lookup and the depthwise causal conv (full sequence or one step). */
import { FLAT_INDEX, WG, type Kernel } from '../context.js';
import { weightBinding, type WeightDType } from './weights.js';

/**
 * out[i, :] = table[ids[i], :]. Ids were checked against V on the host, except where a kernel made
 * them (a MoE router's top-k gives -1 when no value qualifies, e.g. NaN scores): such an id gives
 * a row of zeros, never a read past the table.
 */
export function embeddingKernel(tableType: WeightDType): Kernel {
  return {
  key: `embedding_${tableType}`,
  code: () => /* wgsl */ `
struct P { n: u32, H: u32, V: u32 }
@group(0) @binding(0) var<storage, read> ids: array<i32>;
${weightBinding('table', 1, tableType)}
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<uniform> p: P;
${FLAT_INDEX}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= p.n) { return; }
  let id = ids[i / p.H];
  if (id < 0 || u32(id) >= p.V) { Y[i] = 0.0; return; }
  Y[i] = table_at(u32(id) * p.H + i % p.H);
}`,
  };
}

/**
 * One thread per output value, then one per new-state value:
 *   out[b,t,d] = bias[d] + Σ_k w[d,k] · xpad[b, t+k, d]   (xpad = state (K-1 columns) ++ x)
 *   state'[b,d,s] = xpad[b, L+s, d]
 * Flags: hasBias, hasState, silu.
 */
export const causalConvKernel: Kernel = {
  key: 'causal_conv1d',
  code: () => /* wgsl */ `
struct P { B: u32, L: u32, D: u32, K: u32, hasBias: u32, hasState: u32, silu: u32, nOut: u32, nState: u32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;      // (B, L, D)
@group(0) @binding(1) var<storage, read> Wt: array<f32>;     // (D, K)
@group(0) @binding(2) var<storage, read> bias: array<f32>;   // (D)
@group(0) @binding(3) var<storage, read> S0: array<f32>;     // (B, D, K-1)
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;  // (B, L, D)
@group(0) @binding(5) var<storage, read_write> S1: array<f32>; // (B, D, K-1)
@group(0) @binding(6) var<uniform> p: P;
${FLAT_INDEX}
// xpad[b, j, d] for j in [0, K-1+L)
fn xpad(b: u32, j: u32, d: u32) -> f32 {
  let S = p.K - 1u;
  if (j >= S) { return X[(b * p.L + j - S) * p.D + d]; }
  if (p.hasState == 1u) { return S0[(b * p.D + d) * S + j]; }
  return 0.0;
}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i < p.nOut) {
    let d = i % p.D;
    let t = (i / p.D) % p.L;
    let b = i / (p.D * p.L);
    var acc = 0.0;
    if (p.hasBias == 1u) { acc = bias[d]; }
    for (var k = 0u; k < p.K; k++) { acc = fma(Wt[d * p.K + k], xpad(b, t + k, d), acc); }
    if (p.silu == 1u) { acc = acc / (1.0 + exp(-acc)); }
    Y[i] = acc;
  } else if (i < p.nOut + p.nState) {
    let j = i - p.nOut;
    let S = p.K - 1u;
    let s = j % S;
    let d = (j / S) % p.D;
    let b = j / (S * p.D);
    S1[j] = xpad(b, p.L + s, d);
  }
}`,
};
