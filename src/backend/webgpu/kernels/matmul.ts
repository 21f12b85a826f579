/**
 * Matmul kernels.
 * - tiled: C (M, N) = op(A) · op(B) per batch, a T×T output tile per workgroup of 16×16 threads,
 *   each thread (T/16)² outputs; T = 128 for large products (more work per shared load), 64, or 32
 *   when bigger tiles would leave the GPU idle. K is walked in steps of 16 through workgroup
 *   memory, the tiles loaded so that consecutive threads read consecutive addresses.
 * - split K: a product with few output tiles and a long K (a weight's gradient, Xᵀ·dY over every
 *   token of a batch) would run as a handful of workgroups each walking all of K: 13 ms for the
 *   tiny synthetic-task model's 264k tokens on an H100, three quarters of its training step. Then
 *   the tiled kernel runs K in `slices` stretches (its grid's z), each writing a partial product,
 *   and splitKSumKernel adds them in slice order (deterministic).
   (A few rows times a weight, as in decoding, go to gemv4.ts instead.)
 */
import { cachedKernel, Uniforms, WG, type Kernel } from '../context.js';
import { weightBinding, type WeightDType } from './weights.js';

export function tiledMatmulKernel(transA: boolean, transB: boolean, per: 2 | 4 | 8 = 4, bType: WeightDType = 'f32'): Kernel {
  const T = 16 * per; // output tile edge
  // Tile loads: e in [0, T·16) → (k, m) index pairs chosen so that consecutive threads read
  // consecutive addresses in the operand's own layout.
  const loadA = transA
    ? `let kk = e / ${T}u; let mm = e % ${T}u; let gm = m0 + mm; let gk = k0 + kk; var v = 0.0; if (gm < p.M && gk < kEnd) { v = A[aBase + gk * p.M + gm]; }`
    : 'let mm = e / 16u; let kk = e % 16u; let gm = m0 + mm; let gk = k0 + kk; var v = 0.0; if (gm < p.M && gk < kEnd) { v = A[aBase + gm * p.K + gk]; }';
  const loadB = transB
    ? 'let nn = e / 16u; let kk = e % 16u; let gn = n0 + nn; let gk = k0 + kk; var v = 0.0; if (gn < p.N && gk < kEnd) { v = B_at(bBase + gn * p.K + gk); }'
    : `let kk = e / ${T}u; let nn = e % ${T}u; let gn = n0 + nn; let gk = k0 + kk; var v = 0.0; if (gn < p.N && gk < kEnd) { v = B_at(bBase + gk * p.N + gn); }`;
  const vec = per >= 4;
  return {
    key: `matmul_tiled_${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}_${T}_${bType}${vec ? '_v4' : ''}`,
    code: () => /* wgsl */ `
struct P { M: u32, N: u32, K: u32, aStride: u32, bStride: u32, kLen: u32, slices: u32 }
@group(0) @binding(0) var<storage, read> A: array<f32>;
${weightBinding('B', 1, bType)}
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> p: P;
${vec ? vec4Body(T, per, loadA, loadB) : scalarBody(T, per, loadA, loadB)}`,
  };
}

/** The tiled kernels' entry point: thread (tx, ty) of the T×T tile at (m0, n0) of batch wid.z. */
function tileEntry(T: number): string {
  return `@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let tx = lid.x;
  let ty = lid.y;
  let tid = ty * 16u + tx;
  let m0 = wid.y * ${T}u;
  let n0 = wid.x * ${T}u;
  // z = batch · slices + slice: the slice's stretch of K (all of K when slices = 1); its partial
  // product goes to output z (C itself when slices = 1).
  let bz = wid.z / p.slices;
  let kBeg = (wid.z % p.slices) * p.kLen;
  let kEnd = min(kBeg + p.kLen, p.K);
  let aBase = bz * p.aStride;
  let bBase = bz * p.bStride;`;
}

/**
 * Tiles of 64 or 128: each thread owns (per/4)² blocks of 4×4 outputs, rows ty·4 + 64·q and columns
 * tx·4 + 64·q, so that a k step reads its A and B values from workgroup memory as per/2 vec4s for
 * per² fmas (strided scalar reads made the inner loop load-bound: 2·per loads for per² fmas).
 */
function vec4Body(T: number, per: number, loadA: string, loadB: string): string {
  const Q = per / 4; // 4×4 blocks per dimension
  const V = T / 4; // vec4s per k row of a tile
  const blocks: string[] = [];
  for (let qa = 0; qa < Q; qa++) {
    for (let r = 0; r < 4; r++) {
      for (let qb = 0; qb < Q; qb++) {
        const i = (qa * 4 + r) * Q + qb;
        blocks.push(`acc[${i}] = fma(vec4<f32>(a${qa}[${r}]), b${qb}, acc[${i}]);`);
      }
    }
  }
  const loads = Array.from({ length: Q }, (_, q) => `let a${q} = As[kk * ${V}u + ${q * 16}u + ty]; let b${q} = Bs[kk * ${V}u + ${q * 16}u + tx];`).join(' ');
  return /* wgsl */ `
var<workgroup> As: array<vec4<f32>, ${T * 4}>; // [k][m], 4 m per vec4
var<workgroup> Bs: array<vec4<f32>, ${T * 4}>; // [k][n]
${tileEntry(T)}
  var acc: array<vec4<f32>, ${per * Q}>; // [row][column block]
  for (var k0 = kBeg; k0 < kEnd; k0 += 16u) {
    for (var r = 0u; r < ${per}u; r++) {
      let e = tid + r * 256u;
      { ${loadA} let at = kk * ${T}u + mm; As[at / 4u][at % 4u] = v; }
      { ${loadB} let at = kk * ${T}u + nn; Bs[at / 4u][at % 4u] = v; }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk++) {
      ${loads}
      ${blocks.join('\n      ')}
    }
    workgroupBarrier();
  }
  let cBase = wid.z * p.M * p.N;
  for (var i = 0u; i < ${per}u; i++) {
    let m = m0 + (i / 4u) * 64u + ty * 4u + i % 4u;
    if (m >= p.M) { continue; }
    for (var q = 0u; q < ${Q}u; q++) {
      let v = acc[i * ${Q}u + q];
      let n = n0 + q * 64u + tx * 4u;
      for (var c = 0u; c < 4u; c++) {
        if (n + c < p.N) { C[cBase + m * p.N + n + c] = v[c]; }
      }
    }
  }
}`;
}

/** Tiles of 32: each thread owns per × per outputs strided by 16. */
function scalarBody(T: number, per: number, loadA: string, loadB: string): string {
  return /* wgsl */ `
var<workgroup> As: array<f32, ${T * 16}>; // [k * T + m]
var<workgroup> Bs: array<f32, ${T * 16}>; // [k * T + n]
${tileEntry(T)}
  var acc: array<f32, ${per * per}>;
  for (var k0 = kBeg; k0 < kEnd; k0 += 16u) {
    for (var r = 0u; r < ${per}u; r++) {
      let e = tid + r * 256u;
      { ${loadA} As[kk * ${T}u + mm] = v; }
      { ${loadB} Bs[kk * ${T}u + nn] = v; }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk++) {
      var a: array<f32, ${per}>;
      var b: array<f32, ${per}>;
      for (var i = 0u; i < ${per}u; i++) { a[i] = As[kk * ${T}u + ty + 16u * i]; b[i] = Bs[kk * ${T}u + tx + 16u * i]; }
      for (var i = 0u; i < ${per}u; i++) {
        for (var j = 0u; j < ${per}u; j++) { acc[i * ${per}u + j] = fma(a[i], b[j], acc[i * ${per}u + j]); }
      }
    }
    workgroupBarrier();
  }
  let cBase = wid.z * p.M * p.N;
  for (var i = 0u; i < ${per}u; i++) {
    let m = m0 + ty + 16u * i;
    if (m >= p.M) { continue; }
    for (var j = 0u; j < ${per}u; j++) {
      let n = n0 + tx + 16u * j;
      if (n < p.N) { C[cBase + m * p.N + n] = acc[i * ${per}u + j]; }
    }
  }
}`;
}

/** C[b, i] = Σ_s P[b · slices + s, i] for i < M·N, the slices in order: split K's partial products summed. */
export const splitKSumKernel: Kernel = {
  key: 'matmul_split_k_sum',
  code: () => /* wgsl */ `
struct P { MN: u32, slices: u32, total: u32, gx: u32 }
@group(0) @binding(0) var<storage, read> Part: array<f32>;
@group(0) @binding(1) var<storage, read_write> C: array<f32>;
@group(0) @binding(2) var<uniform> p: P;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let e = (wid.x + wid.y * p.gx) * ${WG}u + lid.x;
  if (e >= p.total) { return; }
  let b = e / p.MN;
  let i = e % p.MN;
  var s = 0.0;
  for (var k = 0u; k < p.slices; k++) { s += Part[(b * p.slices + k) * p.MN + i]; }
  C[e] = s;
}`,
};

/** Workgroups under which the tiled matmul leaves an H100 mostly idle (132 SMs). */
const SPLIT_K_BELOW_GROUPS = 128;
/** Workgroups a split aims for: about two per SM. */
const SPLIT_K_GROUPS = 256;
/** The shortest stretch of K a slice walks. */
const SPLIT_K_MIN_LEN = 512;
/** The most bytes of partial products a split may hold. */
const SPLIT_K_MAX_BYTES = 64 * 2 ** 20;

/**
 * How the tiled matmul with `groups` output tiles (of `outputs` outputs in all) runs a reduction of
 * length K: in `slices` stretches of kLen (a multiple of 16, the kernel's step) when its tiles
 * would leave the GPU idle and K is long, so that about SPLIT_K_GROUPS workgroups run; else whole
 * (slices 1, kLen K).
 */
export function splitK(groups: number, outputs: number, K: number): { slices: number; kLen: number } {
  if (groups === 0 || outputs === 0) return { slices: 1, kLen: K }; // an empty product: nothing to split
  const slices = Math.min(Math.ceil(SPLIT_K_GROUPS / groups), Math.floor(K / SPLIT_K_MIN_LEN), Math.floor(SPLIT_K_MAX_BYTES / (4 * outputs)));
  if (groups >= SPLIT_K_BELOW_GROUPS || slices <= 1) return { slices: 1, kLen: K };
  const kLen = Math.ceil(K / slices / 16) * 16;
  return { slices: Math.ceil(K / kLen), kLen };
}

/**
 * The tiled matmul's uniforms (struct P): M, N, K, the operands' batch strides (0: broadcast), and
 * K's slices (whole K in one slice unless split, see splitK).
 */
export function tiledMatmulUniforms(M: number, N: number, K: number, aStride: number, bStride: number, kLen = K, slices = 1): ArrayBuffer {
  return new Uniforms(28).u32(M, N, K, aStride, bStride, kLen, slices).buffer;
}
