/**
 * The SSD forward's second set of kernels, the default (MAMBA_TS_SSD_FWD=v1 runs the first; kernels/ssd.ts states the algorithm
 * and the layouts, which are the same). Where v1 gives each thread 4 outputs and reads one scalar of
 * workgroup memory per FMA (or nearly), these are register-tiled as the tiled matmul
 * (matmul.ts vec4Body): a workgroup of 256 threads owns a 64 × 64 block of outputs, each thread a
 * 4 × 4 sub-block, and each step of the inner loop reads two vec4s of workgroup memory for 16 FMAs.
 * The contraction goes in steps of 16 (time or state), both operands of a step in workgroup memory
 * as [k][64] tiles (8.5 KiB with their padding, 8.75 KiB with the output kernel's row decays: within the 16 KiB every
 * adapter offers). Reads are guarded by branches, not select(): select evaluates both operands, and
 * with Dawn's robustness off (dawn-flags.ts) a masked read past a buffer's end is undefined.
 *
 *   1. cumsum       (workgroup b·chunk, h): the within-chunk cumulative dt·A as a parallel scan
 *                   over 256 tokens at a time (v1 walks the chunk in one thread per head).
 *   2. chunk_state  (workgroup b·chunk, h, a 64 × 64 block of (P, N)): x_t·w_t and B_t tiles, both
 *                   read along their contiguous axis.
 *   3. carry        v1's.
 *   4a. scores      (always, (Bt, chunks, G, T, T); workgroup b·chunk, g, a 64 × 64 block with
 *                   s ≤ t somewhere in it): C and B tiles over 16-wide slices of N.
 *                   MAMBA_TS_SSD_SCORES=k4|k2 runs kernels/ssd-scores-split.ts's instead (32 × 32
 *                   blocks, N split over K groups in the workgroup; untimed).
 *   4. output       (workgroup b·chunk, h, 64 tokens × 64 channels): first C_t·S_in over slices of
 *                   N, scaled per row by exp(cum_t); then over source tiles of 16 tokens, the scores
 *                   times exp(cum_t − cum_s)·dt_s masked to s ≤ t, applied to the x tile; then D·x.
 * v2 always keeps the per-group scores in a buffer (the host falls back to v1 where it would pass
 * the binding limit), so the output kernel never scores pairs itself.
 */
import { SSD_PARAMS } from './ssd.js';
import type { Kernel } from '../context.js';

/** Threads per workgroup of every v2 kernel. */
export const SSD_V2_WG = 256;
/** The output block of the tiled kernels (rows × columns), and the contraction step. */
export const SSD_V2_BLOCK = 64;
const KS = 16;
/** A tile row's stride in floats: 64 + 4, so that transposed stores hit 2-way bank conflicts, not 16. */
const STRIDE = SSD_V2_BLOCK + 4;
const ROW_V4 = STRIDE / 4;

/**
 * Workgroup tiles ta, tb ([k][column], vec4s along the column) and the register block: thread
 * (ty, tx) = (lid / 16, lid % 16) owns rows ty·4.. and columns tx·4.. of the 64 × 64 block.
 */
const TILES = /* wgsl */ `
const KS = ${KS}u;
const BLOCK = ${SSD_V2_BLOCK}u;
var<workgroup> ta: array<vec4<f32>, ${KS * ROW_V4}>;
var<workgroup> tb: array<vec4<f32>, ${KS * ROW_V4}>;
fn putA(k: u32, col: u32, v: f32) { let at = k * ${STRIDE}u + col; ta[at / 4u][at % 4u] = v; }
fn putB(k: u32, col: u32, v: f32) { let at = k * ${STRIDE}u + col; tb[at / 4u][at % 4u] = v; }
`;

/** One step of 16 over the tiles: acc[i] (row ty·4 + i, 4 columns) += ta[k][row] · tb[k][cols]. */
const MAC_STEP = /* wgsl */ `
    for (var k = 0u; k < KS; k++) {
      let a = ta[k * ${ROW_V4}u + ty];
      let bv = tb[k * ${ROW_V4}u + tx];
      acc[0] = fma(vec4<f32>(a.x), bv, acc[0]);
      acc[1] = fma(vec4<f32>(a.y), bv, acc[1]);
      acc[2] = fma(vec4<f32>(a.z), bv, acc[2]);
      acc[3] = fma(vec4<f32>(a.w), bv, acc[3]);
    }`;

/**
 * The element loops that fill a tile, 4 elements per thread: `transposed` walks the 16 values of k
 * fastest (sources whose contiguous axis is the contraction: C, B rows of N, score rows of s),
 * else the 64 columns (x and B as chunk_state reads them: rows of P or N). Binds k, col.
 */
function fill(transposed: boolean, body: string): string {
  const kc = transposed ? 'let col = e / KS; let k = e % KS;' : 'let k = e / BLOCK; let col = e % BLOCK;';
  return `for (var e = lid; e < KS * BLOCK; e += ${SSD_V2_WG}u) { ${kc} ${body} }`;
}

/** Step 1: the within-chunk cumulative sums, 256 tokens of one (b, chunk, h) per scan. Grid (H, Bt·nC). */
export const ssdCumsumV2Kernel: Kernel = {
  key: 'ssd_cumsum_v2',
  code: () => /* wgsl */ `
${SSD_PARAMS}
@group(0) @binding(0) var<storage, read> Dt: array<f32>;        // (Bt, L, H)
@group(0) @binding(1) var<storage, read> A: array<f32>;         // (H)
@group(0) @binding(2) var<storage, read_write> Cum: array<f32>; // (Bt, L, H)
@group(0) @binding(3) var<uniform> p: Dims;
var<workgroup> sh: array<f32, ${SSD_V2_WG}>;
@compute @workgroup_size(${SSD_V2_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  let h = wid.x;
  let b = wid.y / p.nC;
  let c = wid.y % p.nC;
  let t1 = min(c * p.T + p.T, p.L);
  let a = A[h];
  var carry = 0.0;
  for (var s0 = c * p.T; s0 < t1; s0 += ${SSD_V2_WG}u) {
    let t = s0 + lid;
    let k = (b * p.L + t) * p.H + h;
    { var v_ = 0.0; if (t < t1) { v_ = Dt[k] * a; } sh[lid] = v_; }
    workgroupBarrier();
    // Hillis–Steele: after the step of offset o, sh[i] sums the 2o values ending at i.
    for (var o = 1u; o < ${SSD_V2_WG}u; o <<= 1u) {
      var add = 0.0;
      if (lid >= o) { add = sh[lid - o]; }
      workgroupBarrier();
      sh[lid] += add;
      workgroupBarrier();
    }
    if (t < t1) { Cum[k] = carry + sh[lid]; }
    carry += sh[${SSD_V2_WG - 1}u];
    workgroupBarrier(); // every thread has read sh before the next stretch overwrites it
  }
}
`,
};

/**
 * Step 2: the chunk's own end state Σ_t (exp(cum_end − cum_t)·dt_t·x_t) ⊗ B_t over a 64 × 64 block
 * of (P, N): rows p, columns n, contraction over the chunk's tokens. Grid (pBlocks · nBlocks, H,
 * Bt · nC); the uniforms' pBlocks carries pBlocks.
 */
export const ssdChunkStateV2Kernel: Kernel = {
  key: 'ssd_chunk_state_v2',
  code: () => /* wgsl */ `
${SSD_PARAMS}
@group(0) @binding(0) var<storage, read> X: array<f32>;        // (Bt, L, H, P)
@group(0) @binding(1) var<storage, read> Dt: array<f32>;       // (Bt, L, H)
@group(0) @binding(2) var<storage, read> Cum: array<f32>;      // (Bt, L, H)
@group(0) @binding(3) var<storage, read> Bm: array<f32>;       // (Bt, L, G, N)
@group(0) @binding(4) var<storage, read_write> S: array<f32>;  // (Bt, nC, H, P, N)
@group(0) @binding(5) var<uniform> p: Dims;
${TILES}
@compute @workgroup_size(${SSD_V2_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  let ty = lid / 16u;
  let tx = lid % 16u;
  let h = wid.y;
  let b = wid.z / p.nC;
  let c = wid.z % p.nC;
  let g = h / (p.H / p.G);
  let p0 = (wid.x % p.pBlocks) * BLOCK;
  let n0 = (wid.x / p.pBlocks) * BLOCK;
  let t1 = min(c * p.T + p.T, p.L);
  let cumEnd = Cum[(b * p.L + t1 - 1u) * p.H + h];
  var acc: array<vec4<f32>, 4>;
  for (var s0 = c * p.T; s0 < t1; s0 += KS) {
    ${fill(false, `let t = s0 + k;
      let kt = (b * p.L + t) * p.H + h;
      { var v_ = 0.0; if (t < t1 && p0 + col < p.P) { v_ = X[kt * p.P + p0 + col] * exp(cumEnd - Cum[kt]) * Dt[kt]; } putA(k, col, v_); }
      { var v_ = 0.0; if (t < t1 && n0 + col < p.N) { v_ = Bm[((b * p.L + t) * p.G + g) * p.N + n0 + col]; } putB(k, col, v_); }`)}
    workgroupBarrier();
    ${MAC_STEP}
    workgroupBarrier();
  }
  let base = ((b * p.nC + c) * p.H + h) * p.P;
  for (var i = 0u; i < 4u; i++) {
    let pp = p0 + ty * 4u + i;
    if (pp >= p.P) { break; }
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + tx * 4u + j;
      if (n < p.N) { S[(base + pp) * p.N + n] = acc[i][j]; }
    }
  }
}
`,
};

/** Step 4a's bindings, shared by every kernel that writes the scores (ssd-scores-split.ts too). */
export const SSD_SCORES_BINDINGS = /* wgsl */ `
@group(0) @binding(0) var<storage, read> Bm: array<f32>;        // (Bt, L, G, N)
@group(0) @binding(1) var<storage, read> Cm: array<f32>;        // (Bt, L, G, N)
@group(0) @binding(2) var<storage, read_write> Sc: array<f32>;  // (Bt, nC, G, T, T)
@group(0) @binding(3) var<uniform> p: Dims;
`;

/**
 * Step 4a: the scores C_t·B_s of each chunk, once per group, as (Bt, nC, G, T, T): the 64 × 64
 * blocks on or below the diagonal (those above hold only pairs s > t, never read); within a
 * diagonal block only the pairs s <= t are written (the reader reads no others). Grid (rowBlocks², G,
 * Bt · nC); the uniforms' pBlocks carries rowBlocks.
 */
export const ssdScoresV2Kernel: Kernel = {
  key: 'ssd_scores_v2',
  code: () => /* wgsl */ `
${SSD_PARAMS}
${SSD_SCORES_BINDINGS}
${TILES}
@compute @workgroup_size(${SSD_V2_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  let ty = lid / 16u;
  let tx = lid % 16u;
  let g = wid.y;
  let b = wid.z / p.nC;
  let c = wid.z % p.nC;
  let t0 = c * p.T;
  let len = min(t0 + p.T, p.L) - t0;
  let r0 = (wid.x / p.pBlocks) * BLOCK; // rows t, within the chunk
  let s0 = (wid.x % p.pBlocks) * BLOCK; // columns s
  if (s0 > r0 || r0 >= len) { return; }
  var acc: array<vec4<f32>, 4>;
  for (var n0 = 0u; n0 < p.N; n0 += KS) {
    ${fill(true, `let n = n0 + k;
      { var v_ = 0.0; if (r0 + col < len && n < p.N) { v_ = Cm[((b * p.L + t0 + r0 + col) * p.G + g) * p.N + n]; } putA(k, col, v_); }
      { var v_ = 0.0; if (s0 + col < len && n < p.N) { v_ = Bm[((b * p.L + t0 + s0 + col) * p.G + g) * p.N + n]; } putB(k, col, v_); }`)}
    workgroupBarrier();
    ${MAC_STEP}
    workgroupBarrier();
  }
  let base = ((b * p.nC + c) * p.G + g) * p.T;
  for (var i = 0u; i < 4u; i++) {
    let t = r0 + ty * 4u + i;
    if (t >= len) { break; }
    for (var j = 0u; j < 4u; j++) {
      let s = s0 + tx * 4u + j;
      if (s <= t) { Sc[(base + t) * p.T + s] = acc[i][j]; }
    }
  }
}
`,
};

/**
 * Step 4: the outputs of 64 tokens × 64 channels of one head: the start state's part
 * exp(cum_t)·C_t·S_in (contraction over N), then Σ_{s≤t} score·exp(cum_t − cum_s)·dt_s·x_s
 * (contraction over the source tokens, in tiles of 16 up to the block's last row), then D·x.
 * Grid (rowBlocks · pBlocks, H, Bt · nC); the uniforms' pBlocks carries pBlocks.
 */
export const ssdOutputV2Kernel: Kernel = {
  key: 'ssd_output_v2',
  code: () => /* wgsl */ `
${SSD_PARAMS}
@group(0) @binding(0) var<storage, read> X: array<f32>;        // (Bt, L, H, P)
@group(0) @binding(1) var<storage, read> Dt: array<f32>;       // (Bt, L, H)
@group(0) @binding(2) var<storage, read> Cum: array<f32>;      // (Bt, L, H)
@group(0) @binding(3) var<storage, read> Scores: array<f32>;   // (Bt, nC, G, T, T)
@group(0) @binding(4) var<storage, read> Cm: array<f32>;       // (Bt, L, G, N)
@group(0) @binding(5) var<storage, read> S: array<f32>;        // (Bt, nC, H, P, N): states entering the chunks
@group(0) @binding(6) var<storage, read> Dv: array<f32>;       // (H) when hasD
@group(0) @binding(7) var<storage, read_write> Out: array<f32>; // (Bt, L, H, P)
@group(0) @binding(8) var<uniform> p: Dims;
${TILES}
var<workgroup> cumR: array<f32, ${SSD_V2_BLOCK}>;
@compute @workgroup_size(${SSD_V2_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  let ty = lid / 16u;
  let tx = lid % 16u;
  let h = wid.y;
  let b = wid.z / p.nC;
  let c = wid.z % p.nC;
  let g = h / (p.H / p.G);
  let p0 = (wid.x % p.pBlocks) * BLOCK;
  let t0 = c * p.T;
  let len = min(t0 + p.T, p.L) - t0;
  let r0 = (wid.x / p.pBlocks) * BLOCK; // rows t, within the chunk
  if (r0 >= len) { return; }
  let rEnd = min(r0 + BLOCK, len);
  if (lid < BLOCK) { var v_ = 0.0; if (r0 + lid < rEnd) { v_ = Cum[(b * p.L + t0 + r0 + lid) * p.H + h]; } cumR[lid] = v_; }
  var acc: array<vec4<f32>, 4>;
  // The start state's part: C_t · S_in[p, :] (the first barrier also publishes cumR).
  let sBase = ((b * p.nC + c) * p.H + h) * p.P;
  for (var n0 = 0u; n0 < p.N; n0 += KS) {
    ${fill(true, `let n = n0 + k;
      { var v_ = 0.0; if (r0 + col < rEnd && n < p.N) { v_ = Cm[((b * p.L + t0 + r0 + col) * p.G + g) * p.N + n]; } putA(k, col, v_); }
      { var v_ = 0.0; if (p0 + col < p.P && n < p.N) { v_ = S[(sBase + p0 + col) * p.N + n]; } putB(k, col, v_); }`)}
    workgroupBarrier();
    ${MAC_STEP}
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) { acc[i] *= exp(cumR[ty * 4u + i]); }
  // The chunk's own part: weighted scores of s ≤ t times x_s, 16 source tokens a step.
  let scBase = ((b * p.nC + c) * p.G + g) * p.T;
  for (var s0 = 0u; s0 < rEnd; s0 += KS) {
    ${fill(true, `let s = s0 + k;
      let t = r0 + col;
      let ks = (b * p.L + t0 + s) * p.H + h;
      // Only s <= t: there the exponent is not positive (cum decreases), and s, t are in the chunk.
      { var v_ = 0.0; if (s <= t && t < rEnd) { v_ = Scores[(scBase + t) * p.T + s] * exp(cumR[col] - Cum[ks]) * Dt[ks]; } putA(k, col, v_); }`)}
    ${fill(false, `let s = s0 + k;
      { var v_ = 0.0; if (s < rEnd && p0 + col < p.P) { v_ = X[((b * p.L + t0 + s) * p.H + h) * p.P + p0 + col]; } putB(k, col, v_); }`)}
    workgroupBarrier();
    ${MAC_STEP}
    workgroupBarrier();
  }
  var d = 0.0;
  if (p.hasD == 1u) { d = Dv[h]; }
  for (var i = 0u; i < 4u; i++) {
    let t = r0 + ty * 4u + i;
    if (t >= rEnd) { break; }
    for (var j = 0u; j < 4u; j++) {
      let pp = p0 + tx * 4u + j;
      if (pp < p.P) {
        let k = ((b * p.L + t0 + t) * p.H + h) * p.P + pp;
        Out[k] = acc[i][j] + d * X[k];
      }
    }
  }
}
`,
};
