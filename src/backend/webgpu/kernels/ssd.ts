/**
 * Mamba-2's chunked SSD forward (ops/ssd.ts states the map) fused into four or five launches, instead of
 * the composed path's few dozen ops and (chunks × T × T) intermediate tensors. With a = dt·A_h and
 * the sequence cut into chunks of T tokens (the last one partial):
 *
 *   1. cumsum       (thread b, chunk, h): cum_t = a_{t0} + … + a_t within the chunk, (Bt, L, H).
 *   2. chunk_state  (workgroup b·chunk, h, a P×N block): the chunk's own end state,
 *                   Σ_t exp(cum_end − cum_t)·dt_t · x_t ⊗ B_t, as (Bt, chunks, H, P, N); time in
 *                   tiles of x and B in workgroup memory.
 *   3. carry        (thread b, h, p, n): S ← exp(cum_end,k)·S + own_k over the chunks from the
 *                   initial state; each chunk's own state is replaced by the state entering it (in
 *                   place), and the last state written.
 *   4a. scores      (where heads share a group; workgroup b·chunk, g, a 32 × 32 block): C_t·B_s
 *                   for s ≤ t once per group, (Bt, chunks, G, T, T), from tiles of C and B over
 *                   slices of the state in workgroup memory.
 *   4. output       (workgroup b·chunk, h, a block of 32 rows × 32 channels):
 *                   y_t = Σ_{s≤t} (C_t·B_s)·exp(cum_t − cum_s)·dt_s·x_s + exp(cum_t)·C_t·S_in + D·x_t,
 *                   the scores read from 4a's buffer or built here as there, then applied to a
 *                   tile of x.
 * B and C are shared by the H/G heads of a group (g = h / (H/G)). Decays are differences of
 * within-chunk cumulative sums (which stay small: one chunk's worth of dt·A).
 *
 * Layouts (contiguous, f32): x, out (Bt, L, H, P); dt, cum (Bt, L, H); A, D (H); B, C (Bt, L, G, N);
 * initial and last state (Bt, H, P, N).
 *
 * These are v1: the default is kernels/ssd-v2.ts (the same steps and layouts; 64 × 64 blocks with
 * 4 × 4 outputs a thread, a parallel cumsum, the scores always from a buffer): on an H100 at
 * bench/ssd.ts's shape, 189 against 600 µs of GPU time for the whole forward replayed, 348 against
 * 750 µs per call. v1 runs where v2's buffers do
 * not fit, or under MAMBA_TS_SSD_FWD=v1 (bench/ssd.ts times both in turns, `gpu-kernels.js --ssd
 * 2048` each kernel).
 */
import { cachedKernel, FLAT_INDEX, type Kernel } from '../context.js';

/** Threads per workgroup of the tiled kernels (2, 4a and 4). */
export const SSD_WG = 256;
/** chunk_state's block of the state: rows of P × columns of N, and its time tile. */
export const SSD_STATE_PB = 32;
export const SSD_STATE_NB = 64;
const STATE_TT = 16;
/** The largest buffer of per-group scores (Bt, nC, G, T, T) kept; beyond it each head scores its own. */
export const SSD_SCORES_MAX_BYTES = 256 * 2 ** 20;
/** output's block: rows (tokens) × channels of P; its source tile and its slice of N. */
export const SSD_OUT_TR = 32;
export const SSD_OUT_PB = 32;
const OUT_TS = 32;
const OUT_NK = 16;

/** The uniforms' struct of every SSD kernel, forward and backward (kernels/ssd-backward.ts). */
export const SSD_PARAMS = /* wgsl */ `
struct Dims { Bt: u32, L: u32, H: u32, P: u32, G: u32, N: u32, T: u32, nC: u32, hasH0: u32, hasD: u32, pBlocks: u32, _pad: u32 }
`;

/** The uniforms of every SSD kernel (48 bytes). */
export interface SsdDims {
  Bt: number;
  L: number;
  H: number;
  P: number;
  G: number;
  N: number;
  T: number; // the chunk length
  nC: number; // chunks
}

export function ssdUniformWords(d: SsdDims, hasH0: boolean, hasD: boolean, pBlocks: number): number[] {
  return [d.Bt, d.L, d.H, d.P, d.G, d.N, d.T, d.nC, hasH0 ? 1 : 0, hasD ? 1 : 0, pBlocks, 0];
}

/** Step 1: a thread per (b, chunk, head) walks its chunk: cum (Bt, L, H). */
export const ssdCumsumKernel: Kernel = {
  key: 'ssd_cumsum',
  code: () => /* wgsl */ `
${SSD_PARAMS}
${FLAT_INDEX}
@group(0) @binding(0) var<storage, read> Dt: array<f32>;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read_write> Cum: array<f32>;
@group(0) @binding(3) var<uniform> p: Dims;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= p.Bt * p.nC * p.H) { return; }
  let h = i % p.H;
  let c = (i / p.H) % p.nC;
  let b = i / (p.H * p.nC);
  let t0 = c * p.T;
  let t1 = min(t0 + p.T, p.L);
  let a = A[h];
  var acc = 0.0;
  for (var t = t0; t < t1; t++) {
    let k = (b * p.L + t) * p.H + h;
    acc += Dt[k] * a;
    Cum[k] = acc;
  }
}
`,
};

/**
 * Step 2: the chunk's own end state over a PB × NB block of (P, N); a thread owns one row p and
 * NB/8 columns n (strided by 8). Time goes in tiles of STATE_TT tokens through workgroup memory.
 * Grid: (pBlocks · nBlocks, H, Bt · nC).
 */
export const ssdChunkStateKernel: Kernel = {
  key: 'ssd_chunk_state',
  code: () => chunkStateCode('exp(cumEnd - Cum[k]) * Dt[k]'),
};

/**
 * The backward's twin of step 2 (kernels/ssd-backward.ts): each chunk's own part of the gradient of
 * the state entering it, Σ_t exp(cum_t) · dy_t ⊗ C_t, bound as chunk_state is with dy for x and C
 * for B (Dt is bound but unused).
 */
export const ssdStateGradKernel: Kernel = {
  key: 'ssd_state_grad',
  code: () => chunkStateCode('exp(Cum[k])', '_ = Dt[0]; // the binding stays in the layout the forward\'s twin shares'),
};

/** chunk_state's WGSL with the per-token weight `weight` (of k, the token's (b, t, h) index, and cumEnd). */
function chunkStateCode(weight: string, touch = ''): string {
  return /* wgsl */ `
${SSD_PARAMS}
const PB = ${SSD_STATE_PB}u;
const NB = ${SSD_STATE_NB}u;
const TT = ${STATE_TT}u;
const NJ = ${SSD_STATE_NB / 8}u;
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> Dt: array<f32>;
@group(0) @binding(2) var<storage, read> Cum: array<f32>;
@group(0) @binding(3) var<storage, read> Bm: array<f32>;
@group(0) @binding(4) var<storage, read_write> S: array<f32>;   // (Bt, nC, H, P, N)
@group(0) @binding(5) var<uniform> p: Dims;
var<workgroup> xs: array<f32, ${STATE_TT * SSD_STATE_PB}>;
var<workgroup> bs: array<f32, ${STATE_TT * SSD_STATE_NB}>;
var<workgroup> w: array<f32, ${STATE_TT}>;
@compute @workgroup_size(${SSD_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  ${touch}
  let lid = lid3.x;
  let h = wid.y;
  let b = wid.z / p.nC;
  let c = wid.z % p.nC;
  let g = h / (p.H / p.G);
  let p0 = (wid.x % p.pBlocks) * PB;
  let n0 = (wid.x / p.pBlocks) * NB;
  let t0 = c * p.T;
  let t1 = min(t0 + p.T, p.L);
  let cumEnd = Cum[(b * p.L + t1 - 1u) * p.H + h];
  let pl = lid / 8u;
  let nl = lid % 8u;
  var acc: array<f32, NJ>;
  for (var tt = t0; tt < t1; tt += TT) {
    for (var k = lid; k < TT * PB; k += ${SSD_WG}u) {
      let t = tt + k / PB;
      let pp = p0 + k % PB;
      { var v_ = 0.0; if (t < t1 && pp < p.P) { v_ = X[((b * p.L + t) * p.H + h) * p.P + pp]; } xs[k] = v_; }
    }
    for (var k = lid; k < TT * NB; k += ${SSD_WG}u) {
      let t = tt + k / NB;
      let n = n0 + k % NB;
      { var v_ = 0.0; if (t < t1 && n < p.N) { v_ = Bm[((b * p.L + t) * p.G + g) * p.N + n]; } bs[k] = v_; }
    }
    if (lid < TT) {
      let t = tt + lid;
      var wt = 0.0;
      if (t < t1) {
        let k = (b * p.L + t) * p.H + h;
        wt = ${weight};
      }
      w[lid] = wt;
    }
    workgroupBarrier();
    for (var s = 0u; s < TT; s++) {
      let xv = xs[s * PB + pl] * w[s];
      for (var j = 0u; j < NJ; j++) { acc[j] += xv * bs[s * NB + nl + 8u * j]; }
    }
    workgroupBarrier();
  }
  let pp = p0 + pl;
  if (pp >= p.P) { return; }
  let base = ((((b * p.nC + c) * p.H + h) * p.P + pp) * p.N);
  for (var j = 0u; j < NJ; j++) {
    let n = n0 + nl + 8u * j;
    if (n < p.N) { S[base + n] = acc[j]; }
  }
}
`;
}

/**
 * Step 3: a thread per (b, h, p, n) carries the state over the chunks; S's own states become the
 * states entering each chunk, and Last gets the state after the last.
 */
export const ssdCarryKernel: Kernel = {
  key: 'ssd_carry',
  code: () => /* wgsl */ `
${SSD_PARAMS}
${FLAT_INDEX}
@group(0) @binding(0) var<storage, read> Cum: array<f32>;
@group(0) @binding(1) var<storage, read_write> S: array<f32>;   // (Bt, nC, H, P, N), in place
@group(0) @binding(2) var<storage, read> H0: array<f32>;        // (Bt, H, P, N) when hasH0
@group(0) @binding(3) var<storage, read_write> Last: array<f32>; // (Bt, H, P, N)
@group(0) @binding(4) var<uniform> p: Dims;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  let hpn = p.H * p.P * p.N;
  if (i >= p.Bt * hpn) { return; }
  let b = i / hpn;
  let r = i % hpn;
  let h = r / (p.P * p.N);
  var s = 0.0;
  if (p.hasH0 == 1u) { s = H0[i]; }
  for (var c = 0u; c < p.nC; c++) {
    let k = (b * p.nC + c) * hpn + r;
    let own = S[k];
    S[k] = s;
    let tEnd = min(c * p.T + p.T, p.L) - 1u;
    s = exp(Cum[(b * p.L + tEnd) * p.H + h]) * s + own;
  }
  Last[i] = s;
}
`,
};

/**
 * Step 4a (heads sharing a group): the scores C_t·B_s of each chunk's pairs s ≤ t, once per group
 * rather than once per head, as (Bt, nC, G, T, T); pairs with s > t are not written (never read).
 * A workgroup scores a TR × TS block (threads as in the output kernel), C and B tiles in workgroup
 * memory over 16-wide slices of the state. Grid: (rowBlocks², G, Bt · nC); the uniforms' pBlocks
 * carries rowBlocks.
 */
export const ssdScoresKernel: Kernel = {
  key: 'ssd_scores',
  code: () => /* wgsl */ `
${SSD_PARAMS}
${OUTPUT_CONSTS}
@group(0) @binding(0) var<storage, read> Bm: array<f32>;
@group(0) @binding(1) var<storage, read> Cm: array<f32>;
@group(0) @binding(2) var<storage, read_write> Sc: array<f32>;
@group(0) @binding(3) var<uniform> p: Dims;
${SCORE_TILES}
@compute @workgroup_size(${SSD_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  let g = wid.y;
  let b = wid.z / p.nC;
  let c = wid.z % p.nC;
  let rb = wid.x / p.pBlocks;
  let sb = wid.x % p.pBlocks;
  let t0 = c * p.T;
  let t1 = min(t0 + p.T, p.L);
  let r0 = t0 + rb * TR;
  let s0 = t0 + sb * TS;
  if (sb > rb || r0 >= t1) { return; }
  let rEnd = min(r0 + TR, t1);
  let r = lid / 8u;
  let q = lid % 8u;
  let sa = scoreBlock(lid, b, g, r0, rEnd, s0, rEnd);
  let row = rb * TR + r;
  if (row >= p.T) { return; }
  let base = (((b * p.nC + c) * p.G + g) * p.T + row) * p.T;
  for (var j = 0u; j < 4u; j++) {
    let col = sb * TS + q + 8u * j;
    if (col <= row) { Sc[base + col] = sa[j]; }
  }
}
`,
};

const OUTPUT_CONSTS = /* wgsl */ `
const TR = ${SSD_OUT_TR}u;
const TS = ${OUT_TS}u;
const PB = ${SSD_OUT_PB}u;
const NK = ${OUT_NK}u;
`;

/**
 * Workgroup memory and functions of the score blocks: scoreBlock returns a thread's 4 scores
 * C_t·B_s (t = r0 + lid / 8, s = s0 + lid % 8 + 8j), zero outside t < rEnd, s < sEnd.
 */
const SCORE_TILES = /* wgsl */ `
var<workgroup> cs: array<f32, ${SSD_OUT_TR * OUT_NK}>;
var<workgroup> bs: array<f32, ${Math.max(OUT_TS, SSD_OUT_PB) * OUT_NK}>;  // B's tile, or the start state's

// C's rows r0.. (TR × NK) from state column nk0 into cs.
fn loadC(lid: u32, b: u32, g: u32, r0: u32, rEnd: u32, nk0: u32) {
  for (var k = lid; k < TR * NK; k += ${SSD_WG}u) {
    let t = r0 + k / NK;
    let n = nk0 + k % NK;
    { var v_ = 0.0; if (t < rEnd && n < p.N) { v_ = Cm[((b * p.L + t) * p.G + g) * p.N + n]; } cs[k] = v_; }
  }
}

fn scoreBlock(lid: u32, b: u32, g: u32, r0: u32, rEnd: u32, s0: u32, sEnd: u32) -> array<f32, 4> {
  let r = lid / 8u;
  let q = lid % 8u;
  var sa = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
  for (var nk0 = 0u; nk0 < p.N; nk0 += NK) {
    loadC(lid, b, g, r0, rEnd, nk0);
    for (var k = lid; k < TS * NK; k += ${SSD_WG}u) {
      let s = s0 + k / NK;
      let n = nk0 + k % NK;
      { var v_ = 0.0; if (s < sEnd && n < p.N) { v_ = Bm[((b * p.L + s) * p.G + g) * p.N + n]; } bs[k] = v_; }
    }
    workgroupBarrier();
    for (var nn = 0u; nn < NK; nn++) {
      let cv = cs[r * NK + nn];
      for (var j = 0u; j < 4u; j++) { sa[j] += cv * bs[(q + 8u * j) * NK + nn]; }
    }
    workgroupBarrier();
  }
  return sa;
}
`;

/**
 * Step 4: the outputs of a block of TR tokens × PB channels of one head. A thread owns one token
 * (row r = lid / 8) and 4 channels (and, while scoring, 4 source tokens) strided by 8. Per source
 * tile: the scores C_t·B_s (from step 4a's buffer with `precomputed`, else accumulated here over
 * slices of N), weighted by the decay and dt_s and masked to s ≤ t, then applied to the x tile.
 * Then the start state's part, C_t·S_in over slices of N, and the D skip.
 * Grid: (rowBlocks · pBlocks, H, Bt · nC).
 */
export function ssdOutputKernel(precomputed: boolean): Kernel {
  return cachedKernel(`ssd_output_${precomputed}`, () => ({
    key: `ssd_output_${precomputed ? 'precomputed_scores' : 'own_scores'}`,
    code: () => /* wgsl */ `
${SSD_PARAMS}
${OUTPUT_CONSTS}
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> Dt: array<f32>;
@group(0) @binding(2) var<storage, read> Cum: array<f32>;
${precomputed ? '@group(0) @binding(3) var<storage, read> Scores: array<f32>;  // (Bt, nC, G, T, T)' : '@group(0) @binding(3) var<storage, read> Bm: array<f32>;'}
@group(0) @binding(4) var<storage, read> Cm: array<f32>;
@group(0) @binding(5) var<storage, read> S: array<f32>;    // (Bt, nC, H, P, N): states entering the chunks
@group(0) @binding(6) var<storage, read> Dv: array<f32>;   // (H) when hasD
@group(0) @binding(7) var<storage, read_write> Out: array<f32>;
@group(0) @binding(8) var<uniform> p: Dims;
${precomputed ? SCORE_TILES.replace(/fn scoreBlock[\s\S]*$/, '') : SCORE_TILES}
var<workgroup> xs: array<f32, ${OUT_TS * SSD_OUT_PB}>;
var<workgroup> sc: array<f32, ${SSD_OUT_TR * OUT_TS}>;
var<workgroup> cumR: array<f32, ${SSD_OUT_TR}>;
var<workgroup> cumS: array<f32, ${OUT_TS}>;
var<workgroup> dtS: array<f32, ${OUT_TS}>;

@compute @workgroup_size(${SSD_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  let h = wid.y;
  let b = wid.z / p.nC;
  let c = wid.z % p.nC;
  let g = h / (p.H / p.G);
  let p0 = (wid.x % p.pBlocks) * PB;
  let t0 = c * p.T;
  let t1 = min(t0 + p.T, p.L);
  let r0 = t0 + (wid.x / p.pBlocks) * TR;
  if (r0 >= t1) { return; }
  let rEnd = min(r0 + TR, t1);
  let r = lid / 8u;
  let q = lid % 8u;
  let t = r0 + r;
  if (lid < TR) { var v_ = 0.0; if (r0 + lid < rEnd) { v_ = Cum[(b * p.L + r0 + lid) * p.H + h]; } cumR[lid] = v_; }
  var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
  for (var s0 = t0; s0 < rEnd; s0 += TS) {
    if (lid < TS) {
      let s = s0 + lid;
      let k = (b * p.L + s) * p.H + h;
      { var v_ = 0.0; if (s < rEnd) { v_ = Cum[k]; } cumS[lid] = v_; }
      { var v_ = 0.0; if (s < rEnd) { v_ = Dt[k]; } dtS[lid] = v_; }
    }
    ${precomputed
      ? `var sa = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
    let scBase = (((b * p.nC + c) * p.G + g) * p.T + (t - t0)) * p.T + (s0 - t0);
    for (var j = 0u; j < 4u; j++) {
      if (s0 + q + 8u * j <= t && t < rEnd) { sa[j] = Scores[scBase + q + 8u * j]; }
    }`
      : 'let sa = scoreBlock(lid, b, g, r0, rEnd, s0, rEnd);'}
    workgroupBarrier();  // cumS and dtS written
    for (var j = 0u; j < 4u; j++) {
      let sl = q + 8u * j;
      // Where s > t the exponent is positive (cum decreases): select, never multiply, it away.
      let decay = exp(cumR[r] - cumS[sl]);
      { var v_ = 0.0; if (s0 + sl <= t && t < rEnd) { v_ = sa[j] * decay * dtS[sl]; } sc[r * TS + sl] = v_; }
    }
    for (var k = lid; k < TS * PB; k += ${SSD_WG}u) {
      let s = s0 + k / PB;
      let pp = p0 + k % PB;
      { var v_ = 0.0; if (s < rEnd && pp < p.P) { v_ = X[((b * p.L + s) * p.H + h) * p.P + pp]; } xs[k] = v_; }
    }
    workgroupBarrier();
    for (var ss = 0u; ss < TS; ss++) {
      let sv = sc[r * TS + ss];
      for (var j = 0u; j < 4u; j++) { acc[j] += sv * xs[ss * PB + q + 8u * j]; }
    }
    workgroupBarrier();
  }
  // The start state's part: C_t · S_in[p, :].
  var sa = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
  let sBase = ((b * p.nC + c) * p.H + h) * p.P;
  for (var nk0 = 0u; nk0 < p.N; nk0 += NK) {
    loadC(lid, b, g, r0, rEnd, nk0);
    for (var k = lid; k < PB * NK; k += ${SSD_WG}u) {
      let pp = p0 + k / NK;
      let n = nk0 + k % NK;
      { var v_ = 0.0; if (pp < p.P && n < p.N) { v_ = S[(sBase + pp) * p.N + n]; } bs[k] = v_; }
    }
    workgroupBarrier();
    for (var nn = 0u; nn < NK; nn++) {
      let cv = cs[r * NK + nn];
      for (var j = 0u; j < 4u; j++) { sa[j] += cv * bs[(q + 8u * j) * NK + nn]; }
    }
    workgroupBarrier();
  }
  if (t >= rEnd) { return; }
  let fromState = exp(cumR[r]);
  var d = 0.0;
  if (p.hasD == 1u) { d = Dv[h]; }
  for (var j = 0u; j < 4u; j++) {
    let pp = p0 + q + 8u * j;
    if (pp < p.P) {
      let k = ((b * p.L + t) * p.H + h) * p.P + pp;
      Out[k] = acc[j] + fromState * sa[j] + d * X[k];
    }
  }
}
`,
  }));
}
