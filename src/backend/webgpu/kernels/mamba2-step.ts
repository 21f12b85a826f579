/**
 * One Mamba-2 layer's decode step in three kernels (Backend.mamba2BlockStep), instead of a few
 * dozen op-by-op launches, on Mamba-1's conventions (mamba-step.ts, gemv4.ts). For rows b < B
 * (up to 4 specialised, more as blocks of gemvBlockRows() rows):
 *   1. norm_in_proj_conv  zxd[b] = in_proj(RMSNorm(h[b])) = [z (E) | xBC (E + 2GN) | dt (NH)]
 *                         (vec4 lanes per output, gemv4.ts); the workgroups of xBC's channels go on
 *                         with their causal conv step + SiLU, written over xBC, and shift the conv
 *                         state in place
 *   2. ssm_step           per (row, channel of a head, state): dt = clamp(softplus(dt + dt_bias)),
 *                         h' = exp(dt·A_h)·h + dt·x·B_g (in place); y = (C_g·h' + D_h·x)·silu(z)
 *   3. gated_out_proj     out[b] = h[b] + out_proj(RMSNorm_groups(y[b]) · w)   (gemv4.ts body)
 * The states are updated in their own buffers (a thread reads and writes only its own elements),
 * so a replayed decode step keeps them fixed.
 */
import { cachedKernel, type Kernel } from '../context.js';
import { GEMV4_WG, gemv4Body, gemv4Lanes, gemv4PerGroup, gemv4Prologue, gemv4Shared, rowOf, rowsKey, vec4Operand, weight4Binding, type RowBlocks } from './gemv4.js';
import type { WeightDType } from './weights.js';
import { laneSumWgsl } from './mamba-step.js';

/** The sizes of a Mamba-2 layer that its kernels are specialised on. */
export interface Mamba2StepDims {
  hidden: number; // the residual stream's width
  heads: number; // NH
  headDim: number; // P; E = NH·P
  groups: number; // G: B/C groups, and the gated norm's groups
  state: number; // N
  convKernel: number; // K
}

const inner = (d: Mamba2StepDims) => d.heads * d.headDim;
const convDim = (d: Mamba2StepDims) => inner(d) + 2 * d.groups * d.state;
/** in_proj's outputs: z, xBC, dt. */
export const projSize = (d: Mamba2StepDims): number => inner(d) + convDim(d) + d.heads;
const dimsKey = (d: Mamba2StepDims) => `${d.hidden}_${d.heads}_${d.headDim}_${d.groups}_${d.state}_${d.convKernel}`;

/**
 * Step 1: zxd = in_proj(RMSNorm(h)) over projSize outputs, PER per workgroup; the threads of a
 * workgroup whose outputs include xBC channels then run those channels' conv step (one thread per
 * (row, channel)). The conv inputs are loaded before the gemv, so that their latency overlaps it.
 *
 * LP packs the layer's small parameters: [norm weight (D) | in_proj bias (projSize) | conv weight
 * (CD, K) | conv bias (CD)], zeros where absent (one binding instead of four).
 */
export function mamba2NormInProjConvKernel(rb: RowBlocks, d: Mamba2StepDims, wt: WeightDType): Kernel {
  const H = d.hidden;
  const E = inner(d);
  const CD = convDim(d);
  const NP = projSize(d);
  const KC = d.convKernel;
  const PER = gemv4PerGroup(H);
  const rows = rb.rows;
  if (PER * rows > GEMV4_WG) throw new Error('webgpu: mamba2NormInProjConvKernel: too many rows');
  return cachedKernel(`mamba2NormInProjConv_${rowsKey(rb)}_${dimsKey(d)}_${wt}`, () => ({
    key: `mamba2_step_norm_in_proj_conv_${rowsKey(rb)}_${dimsKey(d)}_${wt}`,
    code: () => /* wgsl */ `
struct P { gx: u32, eps: f32, rows: u32 }
const ROWS = ${rows}u;
const E = ${E}u;
const CD = ${CD}u;
const NP = ${NP}u;
const KC = ${KC}u;
const PER = ${PER}u;
const LP_BIAS = ${H}u;             // offsets in LP
const LP_CW = ${H + NP}u;
const LP_CB = ${H + NP + CD * KC}u;
${vec4Operand('X', 0, H)}    // (B, D) residual stream
${weight4Binding('W', 1, H, wt)}                                          // (NP, D) in_proj
${vec4Operand('LP', 2, H)}   // packed small parameters; row 0's first D: the norm weight
@group(0) @binding(3) var<storage, read_write> ZXD: array<f32>;  // (B, NP): z, silu(conv(xBC)), dt
@group(0) @binding(4) var<storage, read_write> S: array<f32>;    // (B, CD, K-1) conv state, updated in place
@group(0) @binding(5) var<uniform> p: P;
${gemv4Shared(true)}
var<workgroup> xs: array<array<f32, PER>, ROWS>;
fn lp(i: u32) -> f32 { return ${H % 4 === 0 ? 'LP[i / 4u][i % 4u]' : 'LP[i]'}; }
@compute @workgroup_size(${GEMV4_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  ${gemv4Prologue(rb)}
  let g0 = slot * PER;                       // this workgroup's first output
  // The conv thread of (row crow, output g0 + cc): live where that output is an xBC channel.
  let crow = lid.x / PER;
  let cc = lid.x % PER;
  let on = g0 + cc;
  let convLive = crow < ROWS && r0 + crow < BT && on >= E && on < E + CD;
  let ch = min(on - min(on, E), CD - 1u);    // its conv channel (clamped where not live)
  let sb = (min(r0 + crow, BT - 1u) * CD + ch) * (KC - 1u);
  var st: array<f32, ${KC - 1}>;
  var conv = lp(LP_CB + ch);
  for (var q = 0u; q + 1u < KC; q++) {
    st[q] = S[sb + q];
    conv = fma(lp(LP_CW + ch * KC + q), st[q], conv);
  }
  let cwNew = lp(LP_CW + ch * KC + KC - 1u);
  ${gemv4Body(rb, H, true, 'LP_at4(0u, e)', 'NP')}
  if (t % ${gemv4Lanes(H)}u == 0u && live) {
    let bv = lp(LP_BIAS + n);
    let isConv = n >= E && n < E + CD;
    for (var b = 0u; b < ROWS; b++) {
      let y = ${rowOf('dsum', 'b')} * inverseSqrt(${rowOf('dsq', 'b')} / f32(${H}u) + p.eps) + bv;
      if (r0 + b < BT && !isConv) { ZXD[(r0 + b) * NP + n] = y; }
      xs[b][n - g0] = y;
    }
  }
  workgroupBarrier();
  if (convLive) {
    let xnew = xs[crow][cc];
    let pre = fma(cwNew, xnew, conv);
    ZXD[(r0 + crow) * NP + on] = pre / (1.0 + exp(-pre));
    for (var q = 0u; q + 2u < KC; q++) { S[sb + q] = st[q + 1u]; }
    S[sb + KC - 2u] = xnew;
  }
}`,
  }));
}

/** Threads per workgroup of the state update: N per channel, 256 / N channels. */
const SSM_WG = 256;

/** Channels (of E) per workgroup of mamba2SsmStepKernel for state size N. */
export function mamba2ChannelsPerGroup(N: number): number {
  return Math.max(1, Math.floor(SSM_WG / N));
}

/**
 * Step 2 for one block of rows (workgroup y) and CPW channels (workgroup x): one thread per
 * (channel, state), the rows of the block in a loop; the channel's y is a sum over its N lanes.
 * Channel c is (head c / P, position c % P); its B and C are its head's group's.
 */
export function mamba2SsmStepKernel(rb: RowBlocks, d: Mamba2StepDims): Kernel {
  const N = d.state;
  if (N > SSM_WG) throw new Error(`webgpu: the Mamba-2 decode step supports state sizes up to ${SSM_WG}, got ${N}`);
  const E = inner(d);
  const CD = convDim(d);
  const NP = projSize(d);
  const P2 = 2 ** Math.ceil(Math.log2(N)); // reduction width: N rounded up to a power of two
  const CPW = mamba2ChannelsPerGroup(N);
  return cachedKernel(`mamba2SsmStep_${rowsKey(rb)}_${dimsKey(d)}`, () => ({
    key: `mamba2_step_ssm_${rowsKey(rb)}_${dimsKey(d)}`,
    code: () => /* wgsl */ `
struct P { rows: u32, lo: f32, hi: f32 }
const ROWS = ${rb.rows}u;
const NS = ${N}u;
const CPW = ${CPW}u;
const E = ${E}u;
const NH = ${d.heads}u;
const HD = ${d.headDim}u;          // channels per head
const HPG = ${d.heads / d.groups}u; // heads per group
const GN = ${d.groups * N}u;
const NP = ${NP}u;
const XO = E;                      // x, B, C, dt within a row of ZXD
const BO = ${2 * E}u;
const CO = ${2 * E + d.groups * N}u;
const DTO = ${E + CD}u;
@group(0) @binding(0) var<storage, read> ZXD: array<f32>;          // (B, NP)
@group(0) @binding(1) var<storage, read> SP: array<f32>;           // [A_log (NH) | D (NH) | dt bias (NH)]
@group(0) @binding(2) var<storage, read_write> Hs: array<f32>;     // (B, NH, P, N), updated in place
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;      // (B, E) y · silu(z)
@group(0) @binding(4) var<uniform> p: P;
var<workgroup> red: array<f32, ${SSM_WG}>;
${laneSumWgsl(P2)}
@compute @workgroup_size(${SSM_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let t = lid.x;
  let BT = ${rb.blocked ? 'p.rows' : `${rb.rows}u`};
  let r0 = wid.y * ROWS;
  // Threads past CPW·NS (when N does not divide 256) borrow the last channel's lanes, read only.
  let c = min(t / NS, CPW - 1u);
  let n = t % NS;
  let ch = wid.x * CPW + c;
  let live = t < CPW * NS && ch < E;
  let dc = min(ch, E - 1u);
  let head = dc / HD;
  let g = head / HPG;
  let a = -exp(SP[head]);
  let dSkip = SP[NH + head];
  let dtBias = SP[2u * NH + head];
  for (var b = 0u; b < ROWS; b++) {
    let r = min(r0 + b, BT - 1u);
    let row = r * NP;
    var dt = ZXD[row + DTO + head] + dtBias;
    dt = select(log(1.0 + exp(dt)), dt, dt > 20.0);
    dt = min(max(dt, p.lo), p.hi);
    let x = ZXD[row + XO + dc];
    let si = (r * E + dc) * NS + n;
    let h = fma(Hs[si], exp(dt * a), (x * dt) * ZXD[row + BO + g * NS + n]);
    if (live && r0 + b < BT) { Hs[si] = h; }
    let y = laneSum(t, c, n, ZXD[row + CO + g * NS + n] * h);
    if (live && n == 0u && r0 + b < BT) {
      let z = ZXD[row + dc];
      Y[r * E + dc] = fma(x, dSkip, y) * (z / (1.0 + exp(-z)));
    }
  }
}`,
  }));
}

/** The most (row, group) pairs of a block that mamba2GatedOutProjKernel normalises at once. */
export const GATED_NORM_SEGMENTS = GEMV4_WG;

/**
 * Step 3: out[b] = h[b] + out_proj(norm(y[b]) · w) (+ bias), norm the RMS over each of the G
 * groups of E / G channels (GatedRMSNorm's convention). Each workgroup first takes the RMS of its
 * rows' groups (a segment of threads per (row, group), summed in workgroup memory), then runs the
 * gemv with each input vec4 scaled by its group's 1/RMS and the weight by the norm weight.
 */
export function mamba2GatedOutProjKernel(rb: RowBlocks, d: Mamba2StepDims, wt: WeightDType): Kernel {
  const E = inner(d);
  const G = d.groups;
  const GS = E / G;
  const segs = rb.rows * G;
  if (segs > GATED_NORM_SEGMENTS) throw new Error('webgpu: mamba2GatedOutProjKernel: too many (row, group) pairs');
  const S = 2 ** Math.floor(Math.log2(GEMV4_WG / segs)); // threads per segment, a power of two
  // A vec4 of Y lies in one group when the group size is a multiple of 4; else each lane's own.
  const scale =
    GS % 4 === 0
      ? `vec4<f32>(inv[(r - R0) * G + (4u * e) / GS])`
      : `vec4<f32>(${[0, 1, 2, 3].map((j) => `inv[(r - R0) * G + min(4u * e + ${j}u, E - 1u) / GS]`).join(', ')})`;
  return cachedKernel(`mamba2GatedOutProj_${rowsKey(rb)}_${dimsKey(d)}_${wt}`, () => ({
    key: `mamba2_step_gated_out_proj_${rowsKey(rb)}_${dimsKey(d)}_${wt}`,
    code: () => /* wgsl */ `
struct P { N: u32, gx: u32, hasBias: u32, rows: u32, eps: f32 }
const ROWS = ${rb.rows}u;
const E = ${E}u;
const G = ${G}u;
const GS = ${GS}u;
const SEGS = ${segs}u;
const S = ${S}u;
${vec4Operand('Yv', 0, E)}   // (B, E) y · silu(z)
${weight4Binding('W', 1, E, wt)}                                        // (D, E) out_proj
@group(0) @binding(2) var<storage, read> bias: array<f32>;      // (D), read when p.hasBias == 1
@group(0) @binding(3) var<storage, read_write> OUT: array<f32>; // (B, D)
@group(0) @binding(4) var<storage, read> R: array<f32>;         // (B, D) residual
${vec4Operand('NW', 5, E)}   // (E) the gated norm's weight
@group(0) @binding(6) var<uniform> p: P;
${gemv4Shared(false)}
var<workgroup> red: array<f32, ${GEMV4_WG}>;
var<workgroup> inv: array<f32, ${segs}>;  // 1/RMS per (row of the block, group)
var<private> R0: u32;
fn yAt(i: u32) -> f32 { return ${E % 4 === 0 ? 'Yv[i / 4u][i % 4u]' : 'Yv[i]'}; }
fn X_at4(r: u32, e: u32) -> vec4<f32> { return Yv_at4(r, e) * ${scale}; }
@compute @workgroup_size(${GEMV4_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  ${gemv4Prologue(rb)}
  R0 = r0;
  // Sum of squares per (row, group): segment seg = b·G + g of S threads, each a strided share.
  let seg = t / S;
  let l = t % S;
  var acc = 0.0;
  if (seg < SEGS) {
    let base = min(r0 + seg / G, BT - 1u) * E + (seg % G) * GS;
    for (var i = l; i < GS; i += S) { let v = yAt(base + i); acc = fma(v, v, acc); }
  }
  red[t] = acc;
  workgroupBarrier();
  for (var o = ${S / 2}u; o > 0u; o >>= 1u) {
    if (l < o) { red[t] += red[t + o]; }
    workgroupBarrier();
  }
  if (l == 0u && seg < SEGS) { inv[seg] = inverseSqrt(red[t] / f32(GS) + p.eps); }
  workgroupBarrier();
  ${gemv4Body(rb, E, false, 'NW_at4(0u, e)')}
  if (t % ${gemv4Lanes(E)}u == 0u && live) {
    var bv = 0.0;
    if (p.hasBias == 1u) { bv = bias[n]; }
    for (var b = 0u; b < ROWS; b++) {
      let r = r0 + b;
      if (r < BT) { OUT[r * p.N + n] = R[r * p.N + n] + ${rowOf('dsum', 'b')} + bv; }
    }
  }
}`,
  }));
}
