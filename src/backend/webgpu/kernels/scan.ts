/**
 * The selective scan on the GPU: the chunked algorithm of backend/cpu/scan-chunked.ts, with the
 * whole S6 computation fused into each phase and the (B, L, D, N) state never written to memory.
 *
 *   phase 1  thread (b, chunk, d): walks its chunk from a zero state, N states in registers:
 *            Δ = softplus(δ + bias), h = exp(ΔA)·h + Δ·B·u, y = C·h + D·u; writes y, the running
 *            Σ Δ and the chunk's end state.
 *   phase 2  thread (b, d, n): carries the state across chunks:
 *            H[c+1] = exp(A · ΣΔ_c) · H[c] + h_end[c]  — the chunk-boundary states (B, nC+1, D, N),
 *            kept for the backward pass; H[nC] is the last state.
 *   phase 3  thread (b, t, d): y += Σ_n C[t,n] · exp(A[n] · cumΔ[t]) · H[c][n], then y · silu(z).
 * When the sequence fits one chunk (decoding, short prompts), phase 1 alone does everything,
 * starting from the initial state ("single" variant).
 */
import { FLAT_INDEX, WG, type Kernel } from '../context.js';

export const SCAN_WG = 64;

const PARAMS = /* wgsl */ `
struct P { B: u32, L: u32, D: u32, T: u32, nC: u32, hasD: u32, hasZ: u32, hasBias: u32, hasH0: u32, softplus: u32 }
fn softplus(x: f32) -> f32 { return select(log(1.0 + exp(x)), x, x > 20.0); }
fn silu(x: f32) -> f32 { return x / (1.0 + exp(-x)); }
`;

/** Phase 1 (or the whole scan when `single`), for state size N. */
export function scanChunkKernel(N: number, single: boolean): Kernel {
  return {
    key: `scan_chunk_${N}_${single ? 'single' : 'multi'}`,
    code: () => /* wgsl */ `
${PARAMS}
const NS = ${N}u;
@group(0) @binding(0) var<storage, read> U: array<f32>;        // (B, L, D)
@group(0) @binding(1) var<storage, read> Dl: array<f32>;       // (B, L, D) δ before bias
@group(0) @binding(2) var<storage, read> A: array<f32>;        // (D, N)
@group(0) @binding(3) var<storage, read> Bm: array<f32>;       // (B, L, N)
@group(0) @binding(4) var<storage, read> Cm: array<f32>;       // (B, L, N)
@group(0) @binding(5) var<storage, read> Dv: array<f32>;       // (D)
@group(0) @binding(6) var<storage, read> Z: array<f32>;        // (B, L, D)
@group(0) @binding(7) var<storage, read> bias: array<f32>;     // (D)
@group(0) @binding(8) var<storage, read> H0: array<f32>;       // (B, D, N)
@group(0) @binding(9) var<storage, read_write> Y: array<f32>;  // (B, L, D)
@group(0) @binding(10) var<storage, read_write> cum: array<f32>;  // (B, L, D) Σ Δ within the chunk [multi]
@group(0) @binding(11) var<storage, read_write> hEnd: array<f32>; // (B, nC, D, N) [multi] / last state (B, D, N) [single]
@group(0) @binding(12) var<uniform> p: P;
@compute @workgroup_size(${SCAN_WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let d = gid.x;
  let c = wid.y;
  let b = wid.z;
  if (d >= p.D) { return; }
  // Layouts come from the shader, so every binding must be referenced in both variants.
  if (p.nC == 0u) { ${single ? 'cum[0] = 0.0;' : 'Y[0] = Z[0] + H0[0];'} }
  var h: array<f32, NS>;
  var a: array<f32, NS>;
  for (var n = 0u; n < NS; n++) {
    a[n] = A[d * NS + n];
    h[n] = 0.0;
    ${single ? 'if (p.hasH0 == 1u) { h[n] = H0[(b * p.D + d) * NS + n]; }' : ''}
  }
  var dBias = 0.0;
  if (p.hasBias == 1u) { dBias = bias[d]; }
  var dSkip = 0.0;
  if (p.hasD == 1u) { dSkip = Dv[d]; }
  let t0 = c * p.T;
  let t1 = min(p.L, t0 + p.T);
  var sum = 0.0;
  for (var t = t0; t < t1; t++) {
    let i = (b * p.L + t) * p.D + d;
    var dt = Dl[i] + dBias;
    if (p.softplus == 1u) { dt = softplus(dt); }
    let u = U[i];
    let bc = (b * p.L + t) * NS;
    let du = dt * u;
    var y = 0.0;
    for (var n = 0u; n < NS; n++) {
      h[n] = fma(exp(dt * a[n]), h[n], du * Bm[bc + n]);
      y = fma(Cm[bc + n], h[n], y);
    }
    y = fma(dSkip, u, y);
    ${
      single
        ? 'if (p.hasZ == 1u) { y = y * silu(Z[i]); }'
        : 'sum += dt;\n    cum[i] = sum;'
    }
    Y[i] = y;
  }
  ${
    single
      ? 'for (var n = 0u; n < NS; n++) { hEnd[(b * p.D + d) * NS + n] = h[n]; }'
      : 'for (var n = 0u; n < NS; n++) { hEnd[((b * p.nC + c) * p.D + d) * NS + n] = h[n]; }'
  }
}`,
  };
}

/** Phase 2: thread per (b, d, n), sequential over chunks. */
export function scanCarryKernel(N: number): Kernel {
  return {
    key: `scan_carry_${N}`,
    code: () => /* wgsl */ `
${PARAMS}
const NS = ${N}u;
@group(0) @binding(0) var<storage, read> A: array<f32>;        // (D, N)
@group(0) @binding(1) var<storage, read> cum: array<f32>;      // (B, L, D)
@group(0) @binding(2) var<storage, read> hEnd: array<f32>;     // (B, nC, D, N)
@group(0) @binding(3) var<storage, read> H0: array<f32>;       // (B, D, N)
@group(0) @binding(4) var<storage, read_write> H: array<f32>;  // (B, nC+1, D, N)
@group(0) @binding(5) var<storage, read_write> last: array<f32>; // (B, D, N)
@group(0) @binding(6) var<uniform> p: P;
${FLAT_INDEX}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= p.B * p.D * NS) { return; }
  let n = i % NS;
  let d = (i / NS) % p.D;
  let b = i / (NS * p.D);
  let a = A[d * NS + n];
  var carry = 0.0;
  if (p.hasH0 == 1u) { carry = H0[i]; }
  H[((b * (p.nC + 1u)) * p.D + d) * NS + n] = carry;
  for (var c = 0u; c < p.nC; c++) {
    let tEnd = min(p.L, (c + 1u) * p.T) - 1u;
    let total = cum[(b * p.L + tEnd) * p.D + d];
    carry = fma(exp(a * total), carry, hEnd[((b * p.nC + c) * p.D + d) * NS + n]);
    H[((b * (p.nC + 1u) + c + 1u) * p.D + d) * NS + n] = carry;
  }
  last[i] = carry;
}`,
  };
}

/** Phase 3: thread per (b, t, d): add the incoming state's contribution, then the gate. */
export function scanFixupKernel(N: number): Kernel {
  return {
    key: `scan_fixup_${N}`,
    code: () => /* wgsl */ `
${PARAMS}
const NS = ${N}u;
@group(0) @binding(0) var<storage, read> A: array<f32>;        // (D, N)
@group(0) @binding(1) var<storage, read> Cm: array<f32>;       // (B, L, N)
@group(0) @binding(2) var<storage, read> cum: array<f32>;      // (B, L, D)
@group(0) @binding(3) var<storage, read> H: array<f32>;        // (B, nC+1, D, N)
@group(0) @binding(4) var<storage, read> Z: array<f32>;        // (B, L, D)
@group(0) @binding(5) var<storage, read_write> Y: array<f32>;  // (B, L, D)
@group(0) @binding(6) var<uniform> p: P;
${FLAT_INDEX}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= p.B * p.L * p.D) { return; }
  let d = i % p.D;
  let t = (i / p.D) % p.L;
  let b = i / (p.D * p.L);
  let c = t / p.T;
  let s = cum[i];
  let hb = ((b * (p.nC + 1u) + c) * p.D + d) * NS;
  let bc = (b * p.L + t) * NS;
  var y = Y[i];
  for (var n = 0u; n < NS; n++) { y = fma(Cm[bc + n] * exp(A[d * NS + n] * s), H[hb + n], y); }
  if (p.hasZ == 1u) { y = y * silu(Z[i]); }
  Y[i] = y;
}`,
  };
}

/** One decode step: thread per (b, d). */
export function stateUpdateKernel(N: number): Kernel {
  return {
    key: `state_update_${N}`,
    code: () => /* wgsl */ `
struct P { B: u32, D: u32, hasD: u32, hasZ: u32, hasBias: u32, softplus: u32 }
fn softplus(x: f32) -> f32 { return select(log(1.0 + exp(x)), x, x > 20.0); }
const NS = ${N}u;
@group(0) @binding(0) var<storage, read> S: array<f32>;        // (B, D, N)
@group(0) @binding(1) var<storage, read> X: array<f32>;        // (B, D)
@group(0) @binding(2) var<storage, read> Dt: array<f32>;       // (B, D)
@group(0) @binding(3) var<storage, read> A: array<f32>;        // (D, N)
@group(0) @binding(4) var<storage, read> Bm: array<f32>;       // (B, N)
@group(0) @binding(5) var<storage, read> Cm: array<f32>;       // (B, N)
@group(0) @binding(6) var<storage, read> Dv: array<f32>;       // (D)
@group(0) @binding(7) var<storage, read> Z: array<f32>;        // (B, D)
@group(0) @binding(8) var<storage, read> bias: array<f32>;     // (D)
@group(0) @binding(9) var<storage, read_write> Y: array<f32>;  // (B, D)
@group(0) @binding(10) var<storage, read_write> S1: array<f32>; // (B, D, N)
@group(0) @binding(11) var<uniform> p: P;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= p.B * p.D) { return; }
  let d = i % p.D;
  let b = i / p.D;
  var dt = Dt[i];
  if (p.hasBias == 1u) { dt += bias[d]; }
  if (p.softplus == 1u) { dt = softplus(dt); }
  let u = X[i];
  var y = 0.0;
  for (var n = 0u; n < NS; n++) {
    let h = fma(exp(dt * A[d * NS + n]), S[i * NS + n], dt * Bm[b * NS + n] * u);
    S1[i * NS + n] = h;
    y = fma(Cm[b * NS + n], h, y);
  }
  if (p.hasD == 1u) { y = fma(Dv[d], u, y); }
  if (p.hasZ == 1u) { y = y * (Z[i] / (1.0 + exp(-Z[i]))); }
  Y[i] = y;
}`,
  };
}
