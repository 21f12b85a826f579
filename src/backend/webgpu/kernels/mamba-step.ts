/**
 * Batch-1 decoding is bound by launches, so one Mamba layer's decode step runs as four kernels
 * (instead of ~15 op-by-op launches). For rows b < B (B <= 4):
 *   1. norm_in_proj   xz[b]   = in_proj(RMSNorm(h[b]))                      workgroup per output
 *   2. conv_x_proj    xc[b]   = silu(conv1d step(x[b], conv state))        thread per channel
 *                     partial x_proj(xc[b]) over the workgroup's 128 channels  thread per output
 *   3. dt_ssm_update  xdbl = Σ partials; Δ = softplus(dt_proj(xdbl[b, :R]) + bias);
 *                     h' = exp(ΔA)h + Δ·B·xc; y = (C·h' + D·xc) · silu(z)      thread per (b, d, n)
 * Steps 2 and 3 are laid out for parallelism: a decode step has little work, and a kernel with
 * few workgroups (one per x_proj output, one thread per channel) left the GPU idle.
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

/** Channels per workgroup of the conv / x_proj kernel: one thread per channel. */
export const CONV_WG = 128;

/** Workgroups (channel slices) of the conv / x_proj kernel: each writes partial x_proj sums. */
export function convSlices(E: number): number {
  return Math.ceil(E / CONV_WG);
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
@group(0) @binding(7) var<storage, read_write> XDP: array<f32>;  // (slices, B, J) partial x_proj
@group(0) @binding(8) var<uniform> p: P;
var<workgroup> xs: array<array<f32, ${CONV_WG}>, ${STEP_MAX_ROWS}>;
@compute @workgroup_size(${CONV_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let t = lid.x;
  let base = wid.x * ${CONV_WG}u;
  let k = base + t;
  let S = p.K - 1u;
  // 1. One thread per channel: the conv step, its silu, the shifted conv state.
  for (var b = 0u; b < p.B; b++) {
    var xc = 0.0;
    if (k < p.E) {
      var acc = 0.0;
      if (p.hasConvBias == 1u) { acc = cb[k]; }
      let sb = (b * p.E + k) * S;
      for (var q = 0u; q < S; q++) { acc = fma(cw[k * p.K + q], S0[sb + q], acc); }
      let xnew = XZ[b * 2u * p.E + k];
      acc = fma(cw[k * p.K + S], xnew, acc);
      xc = acc / (1.0 + exp(-acc));
      XC[b * p.E + k] = xc;
      for (var q = 0u; q + 1u < S; q++) { S1[sb + q] = S0[sb + q + 1u]; }
      S1[sb + S - 1u] = xnew;
    }
    xs[b][t] = xc;
  }
  workgroupBarrier();
  // 2. This slice's share of x_proj: thread j sums its row over the slice's channels.
  let cnt = min(${CONV_WG}u, p.E - base);
  for (var j = t; j < p.J; j += ${CONV_WG}u) {
    var s = vec4<f32>(0.0);
    for (var q = 0u; q < cnt; q++) {
      let w = Wx_at(j * p.E + base + q);
      for (var b = 0u; b < p.B; b++) { s[b] = fma(xs[b][q], w, s[b]); }
    }
    for (var b = 0u; b < p.B; b++) { XDP[(wid.x * p.B + b) * p.J + j] = s[b]; }
  }
}`,
  }));
}

/** Threads per workgroup of the Δ / state-update kernel: N per channel, 256 / N channels. */
const SSM_WG = 256;

/** Channels per workgroup of dtSsmUpdateKernel for state size N. */
export function ssmChannelsPerGroup(N: number): number {
  return Math.max(1, Math.floor(SSM_WG / N));
}

export function dtSsmUpdateKernel(N: number, J: number, wt: WeightDType): Kernel {
  if (N > SSM_WG) throw new Error(`webgpu: the decode step supports state sizes up to ${SSM_WG}, got ${N}`);
  const P2 = 2 ** Math.ceil(Math.log2(N)); // reduction width: N rounded up to a power of two
  const CPW = ssmChannelsPerGroup(N);
  return cachedKernel(`dtSsmUpdateKernel_${N}_${J}_${wt}`, () => ({
    key: `step_dt_ssm_${N}_${J}_${wt}`,
    code: () => /* wgsl */ `
struct P { B: u32, E: u32, R: u32, J: u32, slices: u32 }
const NS = ${N}u;
const CPW = ${CPW}u;
@group(0) @binding(0) var<storage, read> XDP: array<f32>;   // (slices, B, J) partial x_proj: dt_low (R), B (N), C (N)
${weightBinding('Wdt', 1, wt, '// (E, R)')}
@group(0) @binding(2) var<storage, read> SP: array<f32>;    // [A (E, N) = -exp(A_log) | D (E) | dt bias (E)]
@group(0) @binding(3) var<storage, read> XC: array<f32>;    // (B, E)
@group(0) @binding(4) var<storage, read> XZ: array<f32>;    // (B, 2E): z is the second half
@group(0) @binding(5) var<storage, read> H0: array<f32>;    // (B, E, N)
@group(0) @binding(6) var<storage, read_write> H1: array<f32>; // (B, E, N)
@group(0) @binding(7) var<storage, read_write> Y: array<f32>;  // (B, E)
@group(0) @binding(8) var<uniform> p: P;
var<workgroup> xd: array<f32, ${J * STEP_MAX_ROWS}>;
var<workgroup> red: array<f32, ${SSM_WG}>;
// Sum over the NS lanes of each channel; every thread gets its channel's sum.
fn laneSum(t: u32, c: u32, n: u32, v: f32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  for (var s = ${P2 / 2}u; s > 0u; s >>= 1u) {
    if (n < s && n + s < NS && t < CPW * NS) { red[t] += red[t + s]; }
    workgroupBarrier();
  }
  let r = red[c * NS];
  workgroupBarrier();
  return r;
}
@compute @workgroup_size(${SSM_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let t = lid.x;
  // x_proj's output: the sum of the conv kernel's per-slice partials.
  for (var i = t; i < p.B * p.J; i += ${SSM_WG}u) {
    var s = 0.0;
    for (var sl = 0u; sl < p.slices; sl++) { s += XDP[sl * p.B * p.J + i]; }
    xd[i] = s;
  }
  workgroupBarrier();
  // Threads past CPW·NS (when N does not divide 256) borrow the last channel's lanes, read only.
  let c = min(t / NS, CPW - 1u);
  let n = t % NS;
  let d = wid.x * CPW + c;
  let live = t < CPW * NS && d < p.E;
  for (var b = 0u; b < p.B; b++) {
    // Δ = softplus(dt_proj(dt_low) + bias): the channel's lanes share the R terms.
    var part = 0.0;
    if (live) { for (var r = n; r < p.R; r += NS) { part = fma(Wdt_at(d * p.R + r), xd[b * p.J + r], part); } }
    var dt = laneSum(t, c, n, part);
    var contrib = 0.0;
    var u = 0.0;
    if (live) {
      dt += SP[p.E * NS + p.E + d];
      dt = select(log(1.0 + exp(dt)), dt, dt > 20.0);
      u = XC[b * p.E + d];
      let i = (b * p.E + d) * NS + n;
      let h = fma(exp(dt * SP[d * NS + n]), H0[i], dt * u * xd[b * p.J + p.R + n]);
      H1[i] = h;
      contrib = xd[b * p.J + p.R + NS + n] * h;
    }
    let y = laneSum(t, c, n, contrib);
    if (live && n == 0u) {
      let z = XZ[b * 2u * p.E + p.E + d];
      Y[b * p.E + d] = fma(SP[p.E * NS + d], u, y) * (z / (1.0 + exp(-z)));
    }
  }
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
