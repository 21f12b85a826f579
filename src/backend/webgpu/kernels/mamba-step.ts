/**
 * Batch-1 decoding is bound by launches, so one Mamba layer's decode step runs as four kernels
 * (instead of ~15 op-by-op launches). For rows b < B (B <= 4):
 *   1. norm_in_proj   xz[b]   = in_proj(RMSNorm(h[b]))                      workgroup per output
 *   2. conv_x_proj    xc[b]   = silu(conv1d step(x[b], conv state)),  xdbl[b] = x_proj(xc[b])
 *                     every workgroup recomputes xc (E·K multiply-adds) for its own dot product;
 *                     workgroup 0 also writes xc and the new conv state
 *   3. dt_ssm_update  Δ = softplus(dt_proj(xdbl[b, :R]) + bias); h' = exp(ΔA)h + Δ·B·xc;
 *                     y = (C·h' + D·xc) · silu(z)                              thread per (b, d)
 *   4. out_proj_res   out[b]  = h[b] + out_proj(y[b])                          workgroup per output
 */
import { cachedKernel, type Kernel } from '../context.js';
import { weightBinding, type WeightDType } from './weights.js';

export const STEP_WG = 128;
export const STEP_MAX_ROWS = 4;

/** Tree reduction of part[] (vec4: one lane per row); part[0] holds the sums. */
const REDUCE = /* wgsl */ `
var<workgroup> part: array<vec4<f32>, ${STEP_WG}>;
fn reduce(t: u32) {
  workgroupBarrier();
  for (var s = ${STEP_WG / 2}u; s > 0u; s >>= 1u) {
    if (t < s) { part[t] += part[t + s]; }
    workgroupBarrier();
  }
}
`;

export function normInProjKernel(wt: WeightDType): Kernel {
  return cachedKernel(`normInProjKernel_${wt}`, () => ({
  key: `step_norm_in_proj_${wt}`,
  code: () => /* wgsl */ `
struct P { B: u32, H: u32, N: u32, gx: u32, eps: f32, hasBias: u32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;     // (B, H) residual stream
@group(0) @binding(1) var<storage, read> nw: array<f32>;    // (H) norm weight
${weightBinding('W', 2, wt, '// (N, H) in_proj')}
@group(0) @binding(3) var<storage, read> bias: array<f32>;  // (N)
@group(0) @binding(4) var<storage, read_write> Y: array<f32>; // (B, N)
@group(0) @binding(5) var<uniform> p: P;
${REDUCE}
@compute @workgroup_size(${STEP_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let n = wid.x + wid.y * p.gx;
  let t = lid.x;
  // RMS of each row (every workgroup recomputes it: H values per row).
  var ss = vec4<f32>(0.0);
  for (var k = t; k < p.H; k += ${STEP_WG}u) {
    for (var b = 0u; b < p.B; b++) { let v = X[b * p.H + k]; ss[b] += v * v; }
  }
  part[t] = ss;
  reduce(t);
  let inv = inverseSqrt(part[0] / f32(p.H) + vec4<f32>(p.eps));
  workgroupBarrier();
  var s = vec4<f32>(0.0);
  if (n < p.N) {
    for (var k = t; k < p.H; k += ${STEP_WG}u) {
      let w = W_at(n * p.H + k) * nw[k];
      for (var b = 0u; b < p.B; b++) { s[b] = fma(X[b * p.H + k], w, s[b]); }
    }
  }
  part[t] = s * inv;
  reduce(t);
  if (t == 0u && n < p.N) {
    var bv = 0.0;
    if (p.hasBias == 1u) { bv = bias[n]; }
    for (var b = 0u; b < p.B; b++) { Y[b * p.N + n] = part[0][b] + bv; }
  }
}`,
  }));
}

export function convXProjKernel(wt: WeightDType): Kernel {
  return cachedKernel(`convXProjKernel_${wt}`, () => ({
  key: `step_conv_x_proj_${wt}`,
  code: () => /* wgsl */ `
struct P { B: u32, E: u32, K: u32, J: u32, hasConvBias: u32 }
@group(0) @binding(0) var<storage, read> XZ: array<f32>;     // (B, 2E): x then z
@group(0) @binding(1) var<storage, read> S0: array<f32>;     // (B, E, K-1) conv state
@group(0) @binding(2) var<storage, read> cw: array<f32>;     // (E, K) conv weight
@group(0) @binding(3) var<storage, read> cb: array<f32>;     // (E) conv bias
${weightBinding('Wx', 4, wt, '// (J, E) x_proj, J = R + 2N')}
@group(0) @binding(5) var<storage, read_write> XC: array<f32>;   // (B, E) conv output
@group(0) @binding(6) var<storage, read_write> S1: array<f32>;   // (B, E, K-1) new conv state
@group(0) @binding(7) var<storage, read_write> XD: array<f32>;   // (B, J) x_proj output
@group(0) @binding(8) var<uniform> p: P;
${REDUCE}
@compute @workgroup_size(${STEP_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let j = wid.x;
  let t = lid.x;
  let S = p.K - 1u;
  var s = vec4<f32>(0.0);
  for (var k = t; k < p.E; k += ${STEP_WG}u) {
    let w = Wx_at(j * p.E + k);
    for (var b = 0u; b < p.B; b++) {
      var acc = 0.0;
      if (p.hasConvBias == 1u) { acc = cb[k]; }
      let sb = (b * p.E + k) * S;
      for (var q = 0u; q < S; q++) { acc = fma(cw[k * p.K + q], S0[sb + q], acc); }
      let xnew = XZ[b * 2u * p.E + k];
      acc = fma(cw[k * p.K + S], xnew, acc);
      let xc = acc / (1.0 + exp(-acc));
      s[b] = fma(xc, w, s[b]);
      if (j == 0u) {
        XC[b * p.E + k] = xc;
        for (var q = 0u; q + 1u < S; q++) { S1[sb + q] = S0[sb + q + 1u]; }
        S1[sb + S - 1u] = xnew;
      }
    }
  }
  part[t] = s;
  reduce(t);
  if (t == 0u) {
    for (var b = 0u; b < p.B; b++) { XD[b * p.J + j] = part[0][b]; }
  }
}`,
  }));
}

export function dtSsmUpdateKernel(N: number, wt: WeightDType): Kernel {
  return cachedKernel(`dtSsmUpdateKernel_${N}_${wt}`, () => ({
    key: `step_dt_ssm_${N}_${wt}`,
    code: () => /* wgsl */ `
struct P { B: u32, E: u32, R: u32, J: u32 }
const NS = ${N}u;
@group(0) @binding(0) var<storage, read> XD: array<f32>;    // (B, J): dt_low (R), B (N), C (N)
${weightBinding('Wdt', 1, wt, '// (E, R)')}
@group(0) @binding(2) var<storage, read> SP: array<f32>;    // [A (E, N) = -exp(A_log) | D (E) | dt bias (E)]
@group(0) @binding(3) var<storage, read> XC: array<f32>;    // (B, E)
@group(0) @binding(4) var<storage, read> XZ: array<f32>;    // (B, 2E): z is the second half
@group(0) @binding(5) var<storage, read> H0: array<f32>;    // (B, E, N)
@group(0) @binding(6) var<storage, read_write> H1: array<f32>; // (B, E, N)
@group(0) @binding(7) var<storage, read_write> Y: array<f32>;  // (B, E)
@group(0) @binding(8) var<uniform> p: P;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= p.B * p.E) { return; }
  let d = i % p.E;
  let b = i / p.E;
  var dt = SP[p.E * NS + p.E + d];
  for (var r = 0u; r < p.R; r++) { dt = fma(Wdt_at(d * p.R + r), XD[b * p.J + r], dt); }
  dt = select(log(1.0 + exp(dt)), dt, dt > 20.0);
  let u = XC[i];
  let du = dt * u;
  var y = 0.0;
  for (var n = 0u; n < NS; n++) {
    let h = fma(exp(dt * SP[d * NS + n]), H0[i * NS + n], du * XD[b * p.J + p.R + n]);
    H1[i * NS + n] = h;
    y = fma(XD[b * p.J + p.R + NS + n], h, y);
  }
  y = fma(SP[p.E * NS + d], u, y);
  let z = XZ[b * 2u * p.E + p.E + d];
  Y[i] = y * (z / (1.0 + exp(-z)));
}`,
  }));
}

export function outProjResidualKernel(wt: WeightDType): Kernel {
  return cachedKernel(`outProjResidualKernel_${wt}`, () => ({
  key: `step_out_proj_residual_${wt}`,
  code: () => /* wgsl */ `
struct P { B: u32, E: u32, H: u32, gx: u32, hasBias: u32 }
@group(0) @binding(0) var<storage, read> Yin: array<f32>;   // (B, E)
${weightBinding('W', 1, wt, '// (H, E) out_proj')}
@group(0) @binding(2) var<storage, read> bias: array<f32>;  // (H)
@group(0) @binding(3) var<storage, read> R: array<f32>;     // (B, H) residual
@group(0) @binding(4) var<storage, read_write> O: array<f32>; // (B, H)
@group(0) @binding(5) var<uniform> p: P;
${REDUCE}
@compute @workgroup_size(${STEP_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let n = wid.x + wid.y * p.gx;
  let t = lid.x;
  var s = vec4<f32>(0.0);
  if (n < p.H) {
    for (var k = t; k < p.E; k += ${STEP_WG}u) {
      let w = W_at(n * p.E + k);
      for (var b = 0u; b < p.B; b++) { s[b] = fma(Yin[b * p.E + k], w, s[b]); }
    }
  }
  part[t] = s;
  reduce(t);
  if (t == 0u && n < p.H) {
    var bv = 0.0;
    if (p.hasBias == 1u) { bv = bias[n]; }
    for (var b = 0u; b < p.B; b++) { O[b * p.H + n] = R[b * p.H + n] + part[0][b] + bv; }
  }
}`,
  }));
}
