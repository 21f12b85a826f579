/**
 * Batch-1 decoding is bound by launches, so one Mamba layer's decode step runs as three kernels
 * (instead of ~15 op-by-op launches). For rows b < B (B <= 4 specialised, so that the per-row
 * accumulators stay in registers; a larger batch as blocks of 8 rows (gemvBlockRows), see gemv4.ts):
 *   1. norm_in_proj_conv  xz[b] = in_proj(RMSNorm(h[b])) (vec4 lanes per output, gemv4.ts); the
 *                     workgroups of x's channels go on with xc[b] = silu(conv1d step(x[b], conv
 *                     state)) and their channels' share of x_proj(xc[b]), written as partial sums
 *   2. dt_ssm_update  xdbl = Σ partials; Δ = softplus(dt_proj(xdbl[b, :R]) + bias);
 *                     h' = exp(ΔA)h + Δ·B·xc; y = (C·h' + D·xc) · silu(z)    thread per (b, d, n)
 *   3. out_proj_res   out[b] = h[b] + out_proj(y[b])            (gemv4.ts)
 * A blocked batch (more than 4 rows) runs x_proj between 1 and 2 as a gemv of its own instead;
 * its step 2 takes dtSsmV2Kernel where it fits (MAMBA_TS_STEP_SSM=states|rows: the other layouts).
 * From 32 rows a product may run as a register-tiled kernel instead (batch-linear.ts:
 * batchLinearTile; by default only the wide in_proj, as batchNormInProjConvKernel with the conv step
 * as its epilogue); step 2 stays.
 * Jamba's layers take variants (StepVariant): its inner RMSNorms on Δ, B, C applied in step 2's
 * workgroup memory, and the states updated in place (for replayed steps); Mamba-1's are as above.
 * A decode step has little work: the layouts are chosen for parallelism and coalesced weight reads
 * (a lane group reads a weight row's consecutive elements), which is what bounds these kernels.
 */
import { envSwitch } from '../../../env.js';
import { cachedKernel, type Kernel } from '../context.js';
import { GEMV4_WG, gemv4Body, gemv4Lanes, gemv4PerGroup, gemv4Prologue, gemv4Shared, rowOf, rowsKey, vec4Operand, weight4Binding, type RowBlocks } from './gemv4.js';
import { weightBinding, type WeightDType } from './weights.js';

/**
 * Step 1: xz = in_proj(RMSNorm(h)) over 2E outputs (vec4 loads, gemv4.ts), PER per
 * workgroup; a workgroup whose outputs include x channels then runs their conv step (one thread per
 * (row, channel)) and writes their share of x_proj, Σ over its channels of Wx[j, c]·xc[c], as the
 * partial sums of its slice (its output slot). What it needs for that is loaded before the gemv,
 * so that those loads overlap it. Specialised on H, E, J and the conv width KC. A blocked batch
 * skips the partial sums (they would grow as slices × rows × J: 40 MB a layer at batch 64 of a
 * 1.4B model): x_proj then runs as a blocked gemv of its own (linear4Kernel) over xc.
 *
 * LP packs the layer's small parameters: [norm weight (H) | in_proj bias (2E) | conv weight (E, KC)
 * | conv bias (E)], zeros where absent (so that the kernel stays within 8 storage bindings).
 */
export function normInProjConvKernel(rb: RowBlocks, H: number, E: number, J: number, KC: number, wt: WeightDType, wtx: WeightDType, v: StepVariant = MAMBA1): Kernel {
  const lanes = gemv4Lanes(H);
  const PER = gemv4PerGroup(H);
  const JI = Math.ceil(J / GEMV4_WG); // x_proj outputs per thread
  const rows = rb.rows;
  const b = rb.blocked ? 0 : 1; // the bindings after Wx's, which only the unblocked kernel has
  // In place, the conv state is one read_write binding (S0) and the bindings after S1's move down.
  // That is safe: a conv thread shifts only its own (row, channel)'s state, reading ahead of its
  // writes, and the threads that read another's state (clamped indices) do not use what they read.
  const ip = v.inPlace ? 1 : 0;
  const S1 = v.inPlace ? 'S0' : 'S1';
  if (PER * rows > GEMV4_WG) throw new Error('webgpu: normInProjConvKernel: too many rows');
  // Only the in-place variant differs here (the inner norms belong to the state update).
  const vk = v.inPlace ? '_inplace' : '';
  return cachedKernel(`normInProjConv_${rowsKey(rb)}_${H}_${E}_${J}_${KC}_${wt}_${wtx}${vk}`, () => ({
    key: `step_norm_in_proj_conv_${rowsKey(rb)}_${H}_${E}_${J}_${KC}_${wt}_${wtx}${vk}`,
    code: () => /* wgsl */ `
struct P { gx: u32, eps: f32, rows: u32 }
const ROWS = ${rows}u;
const E = ${E}u;
const J = ${J}u;
const KC = ${KC}u;
const PER = ${PER}u;
const LP_BIAS = ${H}u;             // offsets in LP
const LP_CW = ${H + 2 * E}u;
const LP_CB = ${H + 2 * E + E * KC}u;
${vec4Operand('X', 0, H)}    // (B, H) residual stream
${weight4Binding('W', 1, H, wt)}                                          // (2E, H) in_proj
${vec4Operand('LP', 2, H)}   // packed small parameters; row 0's first H: the norm weight
@group(0) @binding(3) var<storage, read_write> XZ: array<f32>;   // (B, 2E): x then z
@group(0) @binding(4) var<storage, ${v.inPlace ? 'read_write' : 'read'}> S0: array<f32>;         // (B, E, KC-1) conv state${v.inPlace ? ', updated in place' : ''}
${rb.blocked ? '' : weightBinding('Wx', 5, wtx, '// (J, E) x_proj')}
${v.inPlace ? '' : `@group(0) @binding(${b + 5}) var<storage, read_write> S1: array<f32>;   // (B, E, KC-1) new conv state`}
@group(0) @binding(${b + 6 - ip}) var<storage, read_write> XCD: array<f32>;  // [xc (BT, E) | not blocked: partial x_proj (slices, BT, J)]
@group(0) @binding(${b + 7 - ip}) var<uniform> p: P;
${gemv4Shared(true)}
var<workgroup> xs: array<array<f32, PER>, ROWS>;
fn lp(i: u32) -> f32 { return ${H % 4 === 0 ? 'LP[i / 4u][i % 4u]' : 'LP[i]'}; }
@compute @workgroup_size(${GEMV4_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  ${gemv4Prologue(rb)}
  let slice = slot;
  let g0 = slice * PER;                      // this workgroup's first output
  let cx = select(0u, min(PER, E - g0), g0 < E); // its x channels (none for z's workgroups)
  // Loaded before the gemv: x_proj weights of this thread's outputs j over the channels, and the
  // conv inputs of this thread's (row, channel).
  ${rb.blocked ? '' : `var wx: array<f32, ${JI * PER}>;
  for (var ji = 0u; ji < ${JI}u; ji++) {
    let j = min(lid.x + ji * ${GEMV4_WG}u, J - 1u);
    for (var c = 0u; c < PER; c++) { wx[ji * PER + c] = select(0.0, Wx_at(j * E + min(g0 + c, E - 1u)), c < cx); }
  }`}
  let crow = lid.x / PER;                    // conv thread's row in the block
  let cc = lid.x % PER;                      // and channel
  let convLive = crow < ROWS && r0 + crow < BT && cc < cx;
  let ch = min(g0 + cc, E - 1u);
  let sb = (min(r0 + crow, BT - 1u) * E + ch) * (KC - 1u);
  var conv = lp(LP_CB + ch);
  for (var q = 0u; q + 1u < KC; q++) { conv = fma(lp(LP_CW + ch * KC + q), S0[sb + q], conv); }
  let cwNew = lp(LP_CW + ch * KC + KC - 1u);
  ${gemv4Body(rb, H, true, 'LP_at4(0u, e)', `${2 * E}u`)}
  if (t % ${lanes}u == 0u && live) {
    let bv = lp(LP_BIAS + n);
    for (var b = 0u; b < ROWS; b++) {
      let y = ${rowOf('dsum', 'b')} * inverseSqrt(${rowOf('dsq', 'b')} / f32(${H}u) + p.eps) + bv;
      if (r0 + b < BT) { XZ[(r0 + b) * ${2 * E}u + n] = y; }
      if (n < E) { xs[b][n - g0] = y; }
    }
  }
  workgroupBarrier();
  // The conv step of the workgroup's x channels, and the new conv state.
  if (convLive) {
    let xnew = xs[crow][cc];
    let pre = fma(cwNew, xnew, conv);
    let xc = pre / (1.0 + exp(-pre));
    XCD[(r0 + crow) * E + ch] = xc;
    for (var q = 0u; q + 2u < KC; q++) { ${S1}[sb + q] = S0[sb + q + 1u]; }
    ${S1}[sb + KC - 2u] = xnew;
    xs[crow][cc] = xc;
  }
  ${rb.blocked ? '' : `workgroupBarrier();
  // This slice's partial x_proj.
  if (cx > 0u) {
    for (var ji = 0u; ji < ${JI}u; ji++) {
      let j = lid.x + ji * ${GEMV4_WG}u;
      if (j < J) {
        for (var b = 0u; b < ROWS; b++) {
          var part = 0.0;
          for (var c = 0u; c < PER; c++) { part = fma(wx[ji * PER + c], xs[b][c], part); }
          if (r0 + b < BT) { XCD[BT * E + (slice * BT + r0 + b) * J + j] = part; }
        }
      }
    }
  }`}
}`,
  }));
}

/**
 * What a Jamba layer's step adds to Mamba-1's kernels; MAMBA1 (neither) gives Mamba-1's kernels
 * exactly as they were.
 */
export interface StepVariant {
  /**
   * Jamba's RMSNorms on x_proj's output segments Δ (R), B (N) and C (N), with one eps: their
   * weights follow the dt bias in SP, the eps follows the state update's uniforms.
   */
  readonly innerNorms: boolean;
  /**
   * The new conv and SSM states are written over the old ones (one read_write binding each, the
   * bindings after the dropped one move down), so that a replayed step's state buffers stay fixed.
   */
  readonly inPlace: boolean;
}

export const MAMBA1: StepVariant = { innerNorms: false, inPlace: false };

/** The variant's part of a kernel key ('' for Mamba-1, whose keys stay as they were). */
function variantKey(v: StepVariant): string {
  return `${v.innerNorms ? '_norms' : ''}${v.inPlace ? '_inplace' : ''}`;
}

/**
 * The bindings and uniforms of both state-update layouts: XCD is [xc (BT, E) | unblocked: partial
 * x_proj (slices, BT, J), per slice and row dt_low (R), B (N), C (N)]; a blocked batch has x_proj's
 * output whole in XDBL. In place, H0 is read and written and H1 does not exist. The states are
 * read as `state` (vec4s where N % 4 == 0, for dtSsmV2Kernel).
 */
function stateUpdateBindings(rb: RowBlocks, wt: WeightDType, v: StepVariant, state: 'f32' | 'vec4<f32>' = 'f32'): string {
  const ip = v.inPlace ? 1 : 0;
  return `struct P { E: u32, R: u32, J: u32, slices: u32, rows: u32${v.innerNorms ? ', eps: f32' : ''} }
@group(0) @binding(0) var<storage, read> XCD: array<f32>;
${weightBinding('Wdt', 1, wt, '// (E, R)')}
@group(0) @binding(2) var<storage, read> SP: array<f32>;    // [A (E, N) = -exp(A_log) | D (E) | dt bias (E)${v.innerNorms ? ' | Δ, B, C norm weights (R, N, N)' : ''}]
@group(0) @binding(3) var<storage, read> XZ: array<f32>;    // (B, 2E): z is the second half
@group(0) @binding(4) var<storage, ${v.inPlace ? 'read_write' : 'read'}> H0: array<${state}>;    // (B, E, N)
${v.inPlace ? '' : `@group(0) @binding(5) var<storage, read_write> H1: array<${state}>; // (B, E, N)`}
@group(0) @binding(${6 - ip}) var<storage, read_write> Y: array<f32>;  // (B, E)
${rb.blocked ? `@group(0) @binding(${7 - ip}) var<storage, read> XDBL: array<f32>; // (BT, J) x_proj(xc)` : ''}
@group(0) @binding(${(rb.blocked ? 8 : 7) - ip}) var<uniform> p: P;`;
}

/**
 * Jamba's inner norms over the block's x_proj rows in workgroup memory (xd, ROWS rows of J), in
 * place: each row's segments Δ (R), B (N), C (N) become x · rsqrt(mean(x²) + eps) · weight. NL
 * lanes (a power of two) sum the squares of each (row, segment) into red, one thread per
 * segment adds its lanes' sums, then every thread scales its elements. Needs t, r0, BT, red (256
 * floats) and the uniforms' eps; the caller puts a barrier between filling xd and this.
 */
function innerNormsWgsl(rows: number, R: number, N: number): string {
  const J = R + 2 * N;
  const segs = 3 * rows;
  if (segs > SSM_WG) throw new Error(`webgpu: the inner norms of the decode step take at most ${SSM_WG / 3} rows a block, got ${rows}`);
  const NL = 2 ** Math.floor(Math.log2(SSM_WG / segs));
  return `
  // Jamba's inner RMSNorms on Δ (R), B (N) and C (N) of every row.
  {
    let seg = t / ${NL}u; // row · 3 + segment
    let lane = t % ${NL}u;
    var sq = 0.0;
    if (seg < ${segs}u) {
      let part = seg % 3u;
      let lo = (seg / 3u) * ${J}u + select(select(${R + N}u, ${R}u, part == 1u), 0u, part == 0u);
      let len = select(${N}u, ${R}u, part == 0u);
      for (var i = lane; i < len; i += ${NL}u) { sq = fma(xd[lo + i], xd[lo + i], sq); }
    }
    red[t] = sq;
    workgroupBarrier();
    if (t < ${segs}u) {
      var s = 0.0;
      for (var l = 0u; l < ${NL}u; l++) { s += red[t * ${NL}u + l]; }
      normScale[t] = inverseSqrt(s / f32(select(${N}u, ${R}u, t % 3u == 0u)) + p.eps);
    }
    workgroupBarrier();
    let nw = p.E * ${N}u + 2u * p.E; // the norm weights in SP
    for (var i = t; i < ${rows * J}u; i += ${SSM_WG}u) {
      let k = i % ${J}u;
      let part = select(select(2u, 1u, k < ${R + N}u), 0u, k < ${R}u);
      if (r0 + i / ${J}u < BT) { xd[i] = xd[i] * normScale[(i / ${J}u) * 3u + part] * SP[nw + k]; }
    }
    workgroupBarrier();
  }`;
}

/** Threads per workgroup of the Δ / state-update kernel: N per channel, 256 / N channels. */
const SSM_WG = 256;

/** Channels per workgroup of dtSsmUpdateKernel for state size N. */
export function ssmChannelsPerGroup(N: number): number {
  return Math.max(1, Math.floor(SSM_WG / N));
}

/**
 * WGSL: laneSum(t, c, n, v), the sum over the NS lanes of each channel (tree reduction through
 * workgroup array `red`, P2 = NS rounded up to a power of two; the kernel defines NS, CPW and red),
 * which every thread of the channel gets. Shared by Mamba-1's and Mamba-2's state updates.
 */
export function laneSumWgsl(P2: number): string {
  return `// Sum over the NS lanes of each channel; every thread gets its channel's sum.
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
}`;
}

/**
 * Step 2 for one block of rows (workgroup y) and CPW channels (workgroup x): one thread per
 * (channel, state), the rows of the block in a loop.
 */
export function dtSsmUpdateKernel(rb: RowBlocks, N: number, J: number, wt: WeightDType, v: StepVariant = MAMBA1): Kernel {
  const rows = rb.rows;
  const H1 = v.inPlace ? 'H0' : 'H1';
  // x_proj's output: the sum of step 1's per-slice partials. G groups of RJ threads each sum
  // every G-th slice (8 loads in flight per thread), then the groups' sums are added.
  const partialSums = `
  let BJ = BT * p.J; // one slice's partials
  let xdp = BT * p.E + r0 * p.J; // where the block's partials of slice 0 start
  for (var i0 = 0u; i0 < RJ; i0 += ${SSM_WG}u) {
    let i = i0 + t % RJ;
    let g = t / RJ;
    var acc = vec4<f32>(0.0);
    if (g < G && i < RJ && r0 + i / p.J < BT) {
      var sl = g;
      for (; sl + 7u * G < p.slices; sl += 8u * G) {
        let o = xdp + sl * BJ + i;
        let st = G * BJ;
        acc += vec4<f32>(XCD[o], XCD[o + st], XCD[o + 2u * st], XCD[o + 3u * st]);
        acc += vec4<f32>(XCD[o + 4u * st], XCD[o + 5u * st], XCD[o + 6u * st], XCD[o + 7u * st]);
      }
      for (; sl < p.slices; sl += G) { acc.x += XCD[xdp + sl * BJ + i]; }
    }
    red[t] = acc.x + acc.y + acc.z + acc.w;
    workgroupBarrier();
    if (t < min(RJ, ${SSM_WG}u) && i < RJ) {
      var s = 0.0;
      for (var q = 0u; q < G; q++) { s += red[t + q * RJ]; }
      xd[i] = s;
    }
    workgroupBarrier();
  }
`;
  // Blocked: x_proj's output comes whole from its own gemv (XDBL, (BT, J)).
  const blockedXProj = `
  for (var i = t; i < RJ; i += ${SSM_WG}u) {
    if (r0 + i / p.J < BT) { xd[i] = XDBL[r0 * p.J + i]; }
  }`;
  if (N > SSM_WG) throw new Error(`webgpu: the decode step supports state sizes up to ${SSM_WG}, got ${N}`);
  const P2 = 2 ** Math.ceil(Math.log2(N)); // reduction width: N rounded up to a power of two
  const CPW = ssmChannelsPerGroup(N);
  return cachedKernel(`dtSsmUpdateKernel_${rowsKey(rb)}_${N}_${J}_${wt}${variantKey(v)}`, () => ({
    key: `step_dt_ssm_${rowsKey(rb)}_${N}_${J}_${wt}${variantKey(v)}`,
    code: () => /* wgsl */ `
const ROWS = ${rows}u;
const NS = ${N}u;
const CPW = ${CPW}u;
const R = ${J - 2 * N}u;           // dt_rank
const RPL = ${Math.max(1, Math.ceil((J - 2 * N) / N))}u; // dt_proj terms per lane
const RJ = ${rows * J}u;           // x_proj outputs of the block's rows
const G = ${Math.max(1, Math.floor(256 / (rows * J)))}u; // thread groups summing the partials
${stateUpdateBindings(rb, wt, v)}
var<workgroup> xd: array<f32, ${J * rows}>;
var<workgroup> red: array<f32, ${SSM_WG}>;${v.innerNorms ? `\nvar<workgroup> normScale: array<f32, ${3 * rows}>;` : ''}
${laneSumWgsl(P2)}
@compute @workgroup_size(${SSM_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let t = lid.x;
  let BT = ${rb.blocked ? 'p.rows' : `${rows}u`};
  let r0 = wid.y * ROWS; // the block's first row
  // Threads past CPW·NS (when N does not divide 256) borrow the last channel's lanes, read only.
  let c = min(t / NS, CPW - 1u);
  let n = t % NS;
  let d = wid.x * CPW + c;
  let live = t < CPW * NS && d < p.E;
  let dc = min(d, p.E - 1u);
  // Everything that does not depend on x_proj's output is loaded first, so that its latency
  // overlaps the partial sums below instead of following them.
  let a = SP[dc * NS + n];
  let dSkip = SP[p.E * NS + dc];
  let dtBias = SP[p.E * NS + p.E + dc];
  var wdt: array<f32, RPL>;
  for (var i = 0u; i < RPL; i++) { wdt[i] = Wdt_at(dc * R + min(n + i * NS, R - 1u)); }
  var h0: array<f32, ROWS>;
  var u: array<f32, ROWS>;
  var z: array<f32, ROWS>;
  for (var b = 0u; b < ROWS; b++) {
    let r = min(r0 + b, BT - 1u);
    h0[b] = H0[(r * p.E + dc) * NS + n];
    u[b] = XCD[r * p.E + dc];
    z[b] = XZ[r * 2u * p.E + p.E + dc];
  }
  ${rb.blocked ? blockedXProj : partialSums}
  workgroupBarrier();${v.innerNorms ? innerNormsWgsl(rows, J - 2 * N, N) : ''}
  for (var b = 0u; b < ROWS; b++) {
    // Δ = softplus(dt_proj(dt_low) + bias): the channel's lanes share the R terms.
    var part = 0.0;
    for (var i = 0u; i < RPL; i++) {
      let r = n + i * NS;
      if (r < R) { part = fma(wdt[i], xd[b * p.J + r], part); }
    }
    var dt = laneSum(t, c, n, part) + dtBias;
    dt = select(log(1.0 + exp(dt)), dt, dt > 20.0);
    let h = fma(exp(dt * a), h0[b], dt * u[b] * xd[b * p.J + R + n]);
    let r = r0 + b;
    if (live && r < BT) { ${H1}[(r * p.E + d) * NS + n] = h; }
    let y = laneSum(t, c, n, xd[b * p.J + R + NS + n] * h);
    if (live && n == 0u && r < BT) {
      Y[r * p.E + d] = fma(dSkip, u[b], y) * (z[b] / (1.0 + exp(-z[b])));
    }
  }
}`,
  }));
}

/**
 * The state update of a blocked batch for MAMBA_TS_STEP_SSM=rows (=states: dtSsmUpdateKernel's
 * thread per (channel, state)): a thread per (row, channel) loops over the N states, as mamba_ssm's
 * selective_state_update does, so there are no lane sums (two workgroup reductions per row in the
 * other layout, each a series of barriers). Same inputs, bindings and uniforms as the blocked
 * dtSsmUpdateKernel; 256 / ROWS channels per workgroup (x), a block of rows per workgroup (y).
 */
export function dtSsmRowsKernel(rb: RowBlocks, N: number, J: number, wt: WeightDType, v: StepVariant = MAMBA1): Kernel {
  if (!rb.blocked) throw new Error('webgpu: dtSsmRowsKernel is for blocked batches');
  const rows = rb.rows;
  const H1 = v.inPlace ? 'H0' : 'H1';
  return cachedKernel(`dtSsmRowsKernel_${rowsKey(rb)}_${N}_${J}_${wt}${variantKey(v)}`, () => ({
    key: `step_dt_ssm_rows_${rowsKey(rb)}_${N}_${J}_${wt}${variantKey(v)}`,
    code: () => /* wgsl */ `
const ROWS = ${rows}u;
const NS = ${N}u;
const CH = ${SSM_WG / rows}u;      // channels per workgroup
const R = ${J - 2 * N}u;           // dt_rank
const J = ${J}u;
${stateUpdateBindings(rb, wt, v)}
var<workgroup> xd: array<f32, ${J * rows}>;${v.innerNorms ? `\nvar<workgroup> red: array<f32, ${SSM_WG}>;\nvar<workgroup> normScale: array<f32, ${3 * rows}>;` : ''}
@compute @workgroup_size(${SSM_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let t = lid.x;
  let BT = p.rows;
  let r0 = wid.y * ROWS;
  for (var i = t; i < ROWS * J; i += ${SSM_WG}u) {
    if (r0 + i / J < BT) { xd[i] = XDBL[r0 * J + i]; }
  }
  workgroupBarrier();${v.innerNorms ? innerNormsWgsl(rows, J - 2 * N, N) : ''}
  let b = t / CH;
  let c = wid.x * CH + t % CH;
  let r = r0 + b;
  if (c >= p.E || r >= BT) { return; } // after the only barrier
  var acc = 0.0;
  for (var k = 0u; k < R; k++) { acc = fma(Wdt_at(c * R + k), xd[b * J + k], acc); }
  var dt = acc + SP[p.E * NS + p.E + c];
  dt = select(log(1.0 + exp(dt)), dt, dt > 20.0);
  let u = XCD[r * p.E + c];
  let z = XZ[r * 2u * p.E + p.E + c];
  let hb = (r * p.E + c) * NS;
  var y = 0.0;
  for (var n = 0u; n < NS; n++) {
    let h = fma(exp(dt * SP[c * NS + n]), H0[hb + n], dt * u * xd[b * J + R + n]);
    ${H1}[hb + n] = h;
    y = fma(xd[b * J + R + NS + n], h, y);
  }
  Y[r * p.E + c] = fma(SP[p.E * NS + c], u, y) * (z / (1.0 + exp(-z)));
}`,
  }));
}

/**
 * The blocked state update's layout: dtSsmV2Kernel by default (where it fits: dtSsmV2Fits; 130M at
 * batch 64 on an H100, whole generations in alternating processes on one machine: 22,300–26,300
 * tokens/s against 18,700–22,000 for dtSsmUpdateKernel, 9.0–11.6 µs a launch against ~24,
 * docs/throughput.md); for
 * benchmarking, MAMBA_TS_STEP_SSM=states picks dtSsmUpdateKernel and =rows dtSsmRowsKernel.
 */
export type SsmStepLayout = 'states' | 'rows' | 'v2';

export function ssmStepLayout(): SsmStepLayout {
  const env = envSwitch('MAMBA_TS_STEP_SSM');
  return env === 'rows' || env === 'states' ? env : 'v2';
}

/*
 * dtSsmV2Kernel: the blocked state update with every (row, channel) pair's work done once and the
 * states read and written as whole, consecutive 16-byte vectors.
 *
 * Why dtSsmUpdateKernel takes ~27 µs at batch 64 on an H100 (130M: E = 1536, N = 16, R = 48) for
 * ~14 MB of traffic (~5 µs): its 8 rows run one after the other inside each workgroup, and each row
 * does two lane sums over the 16 states (Δ's dt_proj terms, then C·h), each a tree through
 * workgroup memory: ~12 barriers a row, ~100 a workgroup, with the workgroup's exp/log/softplus
 * chain between them — a long serial chain per workgroup, and 768 workgroups of 256 threads with
 * 8-row register arrays (h0, u, z) that may not all be resident at once (then two such chains in
 * a row). dtSsmRowsKernel (MAMBA_TS_STEP_SSM=rows) drops the lane sums but reads dt_proj's row
 * (R scalars at a stride of R floats from thread to thread: every load a warp makes touches 32
 * cache lines) and the state (16 scalars at a 64-byte stride) straight from global memory, each
 * in a loop of dependent steps, with a quarter of the threads.
 *
 * Here: LANES = 4 threads per (row, channel) pair, each holding N/4 of its states (one vec4 for
 * N = 16), so that a warp's state loads and stores are 512 consecutive bytes; a workgroup of 256
 * threads covers V2_ROWS × V2_CH = 64 pairs, the grid ceil(E / V2_CH) × ceil(B / V2_ROWS). The
 * block's x_proj rows (Δ-low, B, C) and its channels' dt_proj rows are staged once in workgroup
 * memory with coalesced loads, issued after the state loads so that all are in flight together.
 * Δ's R terms are split over the pair's 4 lanes (R/4 each, from workgroup memory without bank
 * conflicts: dt_proj's rows padded to RP floats, RP/4 odd) and summed once; so are the C·h terms.
 * Three barriers a workgroup in all (staging, Δ, y), plus the inner norms' three for Jamba.
 */
const V2_LANES = 4;
const V2_ROWS = 8;
const V2_CH = SSM_WG / V2_LANES / V2_ROWS;

/** dt_proj's row stride in workgroup memory: R rounded up to a multiple of 4 whose quarter is odd. */
function v2RowStride(R: number): number {
  const rp = Math.ceil(R / 4) * 4;
  return (rp / 4) % 2 === 0 ? rp + 4 : rp;
}

/** Bytes of workgroup memory dtSsmV2Kernel takes. */
function v2SharedBytes(N: number, J: number, innerNorms: boolean): number {
  const R = J - 2 * N;
  return 4 * (V2_ROWS * J + V2_CH * v2RowStride(R) + 2 * SSM_WG + (innerNorms ? 3 * V2_ROWS : 0));
}

/** Whether dtSsmV2Kernel fits a device's workgroup memory. */
export function dtSsmV2Fits(N: number, J: number, innerNorms: boolean, maxWorkgroupStorage: number): boolean {
  return v2SharedBytes(N, J, innerNorms) <= maxWorkgroupStorage;
}

/** dtSsmV2Kernel's grid for E channels and B rows. */
export function dtSsmV2Grid(E: number, B: number): [number, number] {
  return [Math.ceil(E / V2_CH), Math.ceil(B / V2_ROWS)];
}

/**
 * The state update of a blocked batch (the default, see above): same inputs, bindings
 * and uniforms as the blocked dtSsmUpdateKernel, with its own grid (dtSsmV2Grid; the rows of a
 * workgroup do not depend on the gemv's blocks). The states are read as vec4s where N % 4 == 0,
 * else as scalars (the lanes then hold states q, q + 4, …).
 */
export function dtSsmV2Kernel(N: number, J: number, wt: WeightDType, v: StepVariant = MAMBA1): Kernel {
  const R = J - 2 * N;
  if (R < 1) throw new Error(`webgpu: dtSsmV2Kernel: x_proj's width ${J} leaves no dt_rank for state size ${N}`);
  const H1 = v.inPlace ? 'H0' : 'H1';
  const W = N % 4 === 0 ? 4 : 1; // states per unit: a vec4 or a scalar
  const NU = N / W; // units per pair
  const T = W === 4 ? 'vec4<f32>' : 'f32';
  const UPT = Math.ceil(NU / V2_LANES); // units per lane
  const RP = v2RowStride(R);
  // A pair's units, lane q holding q, q + 4, …: unrolled, so that its loads are all issued first.
  const unit = (i: number) => `q + ${i * V2_LANES}u`;
  const guarded = (i: number) => V2_LANES * (i + 1) > NU; // some lanes have no unit i
  const gather = (at: (j: number) => string) => (W === 4 ? `vec4<f32>(${[0, 1, 2, 3].map(at).join(', ')})` : at(0));
  const loads: string[] = [];
  const updates: string[] = [];
  for (let i = 0; i < UPT; i++) {
    const vi = guarded(i) ? `min(${unit(i)}, ${NU - 1}u)` : unit(i);
    loads.push(`  let h0_${i} = H0[hb + ${vi}];
  let a_${i} = ${gather((j) => `SP[dc * NS + ${W}u * (${vi}) + ${j}u]`)};`);
    const body = `let h = fma(exp(dt * a_${i}), h0_${i}, du * ${gather((j) => `xd[xb + R + ${W}u * (${unit(i)}) + ${j}u]`)});
    if (live) { ${H1}[hb + ${unit(i)}] = h; }
    y += ${W === 4 ? 'dot' : ''}(${gather((j) => `xd[xb + R + NS + ${W}u * (${unit(i)}) + ${j}u]`)}${W === 4 ? ',' : ' *'} h);`;
    updates.push(`  ${guarded(i) ? `if (${unit(i)} < ${NU}u) ` : ''}{\n    ${body}\n  }`);
  }
  const rb: RowBlocks = { rows: V2_ROWS, blocked: true, blocks: 0 };
  return cachedKernel(`dtSsmV2Kernel_${N}_${J}_${wt}${variantKey(v)}`, () => ({
    key: `step_dt_ssm_v2_${N}_${J}_${wt}${variantKey(v)}`,
    code: () => /* wgsl */ `
const ROWS = ${V2_ROWS}u;  // rows per workgroup
const CH = ${V2_CH}u;     // channels per workgroup
const NS = ${N}u;
const R = ${R}u;          // dt_rank
const J = ${J}u;
const RP = ${RP}u;        // dt_proj's row stride in wd
${stateUpdateBindings(rb, wt, v, T)}
var<workgroup> xd: array<f32, ${V2_ROWS * J}>;  // the block's x_proj rows: Δ-low (R), B (N), C (N)
var<workgroup> wd: array<f32, ${V2_CH * RP}>;  // the channels' dt_proj rows
var<workgroup> red: array<f32, ${SSM_WG}>;  // Δ's partial sums (and the inner norms')
var<workgroup> ys: array<f32, ${SSM_WG}>;   // C·h's partial sums${v.innerNorms ? `
var<workgroup> normScale: array<f32, ${3 * V2_ROWS}>;` : ''}
@compute @workgroup_size(${SSM_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let t = lid.x;
  let BT = p.rows;
  let r0 = wid.y * ROWS;
  let c0 = wid.x * CH;
  let q = t % ${V2_LANES}u; // this thread's lane of its pair
  let pair = t / ${V2_LANES}u;
  let b = pair / CH;        // the pair's row in the block, and channel
  let cl = pair % CH;
  let r = r0 + b;
  let c = c0 + cl;
  let live = r < BT && c < p.E;
  // Clamped indices for the threads past the batch or the channels: they load, compute, store nothing.
  let dc = min(c, p.E - 1u);
  let hb = (min(r, BT - 1u) * p.E + dc) * ${NU}u;
  let u = XCD[min(r, BT - 1u) * p.E + dc];
  let z = XZ[min(r, BT - 1u) * 2u * p.E + p.E + dc];
${loads.join('\n')}
  let dSkip = SP[p.E * NS + dc];
  let dtBias = SP[p.E * NS + p.E + dc];
  for (var i = t; i < ROWS * J; i += ${SSM_WG}u) {
    if (r0 + i / J < BT) { xd[i] = XDBL[r0 * J + i]; }
  }
  for (var i = t; i < CH * R; i += ${SSM_WG}u) {
    wd[(i / R) * RP + i % R] = Wdt_at(min(c0 * R + i, p.E * R - 1u));
  }
  workgroupBarrier();${v.innerNorms ? innerNormsWgsl(V2_ROWS, R, N) : ''}
  let xb = b * J;
  // Δ = softplus(dt_proj(Δ-low) + bias): lane q takes the terms q, q + 4, ….
  var part = 0.0;
  for (var i = 0u; i < ${Math.ceil(R / V2_LANES)}u; i++) { // a constant trip count, to be unrolled
    let k = q + ${V2_LANES}u * i;
    ${R % V2_LANES === 0 ? '' : 'if (k < R) { '}part = fma(wd[cl * RP + k], xd[xb + k], part);${R % V2_LANES === 0 ? '' : ' }'}
  }
  red[t] = part;
  workgroupBarrier();
  let g = t - q;
  var dt = (red[g] + red[g + 1u]) + (red[g + 2u] + red[g + 3u]) + dtBias;
  dt = select(log(1.0 + exp(dt)), dt, dt > 20.0);
  let du = dt * u;
  var y = 0.0;
${updates.join('\n')}
  ys[t] = y;
  workgroupBarrier();
  if (live && q == 0u) {
    let s = (ys[t] + ys[t + 1u]) + (ys[t + 2u] + ys[t + 3u]);
    Y[r * p.E + c] = fma(dSkip, u, s) * (z / (1.0 + exp(-z)));
  }
}`,
  }));
}
