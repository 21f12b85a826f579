/**
 * Matmul kernels.
 * - tiled: C (M, N) = op(A) · op(B) per batch, a 64×64 output tile per workgroup of 16×16 threads,
 *   (32×32 when 64×64 tiles would leave the GPU idle), each thread 4×4 (2×2) outputs strided by 16 (so reads of the tiles and writes of C are contiguous
 *   across threads), K walked in steps of 16 through workgroup memory.
 * - gemv: for a few rows times a PyTorch-layout weight (N, K) (decoding): one workgroup per output
 *   column, threads striding over K (contiguous reads of the weight row), a tree reduction.
 */
import type { Kernel } from '../context.js';

export function tiledMatmulKernel(transA: boolean, transB: boolean, per: 2 | 4 = 4): Kernel {
  const T = 16 * per; // output tile edge
  // Tile loads: e in [0, T·16) → (k, m) index pairs chosen so that consecutive threads read
  // consecutive addresses in the operand's own layout.
  const loadA = transA
    ? `let kk = e / ${T}u; let mm = e % ${T}u; let gm = m0 + mm; let gk = k0 + kk; var v = 0.0; if (gm < p.M && gk < p.K) { v = A[aBase + gk * p.M + gm]; }`
    : 'let mm = e / 16u; let kk = e % 16u; let gm = m0 + mm; let gk = k0 + kk; var v = 0.0; if (gm < p.M && gk < p.K) { v = A[aBase + gm * p.K + gk]; }';
  const loadB = transB
    ? 'let nn = e / 16u; let kk = e % 16u; let gn = n0 + nn; let gk = k0 + kk; var v = 0.0; if (gn < p.N && gk < p.K) { v = B[bBase + gn * p.K + gk]; }'
    : `let kk = e / ${T}u; let nn = e % ${T}u; let gn = n0 + nn; let gk = k0 + kk; var v = 0.0; if (gn < p.N && gk < p.K) { v = B[bBase + gk * p.N + gn]; }`;
  return {
    key: `matmul_tiled_${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}_${T}`,
    code: () => /* wgsl */ `
struct P { M: u32, N: u32, K: u32, aStride: u32, bStride: u32 }
@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> p: P;
var<workgroup> As: array<f32, ${T * 16}>; // [k * T + m]
var<workgroup> Bs: array<f32, ${T * 16}>; // [k * T + n]
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let tx = lid.x;
  let ty = lid.y;
  let tid = ty * 16u + tx;
  let m0 = wid.y * ${T}u;
  let n0 = wid.x * ${T}u;
  let aBase = wid.z * p.aStride;
  let bBase = wid.z * p.bStride;
  var acc: array<f32, ${per * per}>;
  for (var k0 = 0u; k0 < p.K; k0 += 16u) {
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
}`,
  };
}

export const GEMV_MAX_ROWS = 4;
const GEMV_WG = 128;

/** y (M, N) = x (M, K) · Wᵀ with W (N, K), M <= 4; launched as (N) workgroups (2-D when N > 65535). */
export const gemvKernel: Kernel = {
  key: 'matmul_gemv',
  code: () => /* wgsl */ `
struct P { M: u32, N: u32, K: u32, gx: u32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> W: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<uniform> p: P;
var<workgroup> part: array<vec4<f32>, ${GEMV_WG}>;
@compute @workgroup_size(${GEMV_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let n = wid.x + wid.y * p.gx;
  if (n >= p.N) { return; }
  let t = lid.x;
  var s = vec4<f32>(0.0);
  let w0 = n * p.K;
  for (var k = t; k < p.K; k += ${GEMV_WG}u) {
    let w = W[w0 + k];
    for (var m = 0u; m < p.M; m++) { s[m] = fma(X[m * p.K + k], w, s[m]); }
  }
  part[t] = s;
  workgroupBarrier();
  for (var h = ${GEMV_WG / 2}u; h > 0u; h >>= 1u) {
    if (t < h) { part[t] += part[t + h]; }
    workgroupBarrier();
  }
  if (t == 0u) {
    for (var m = 0u; m < p.M; m++) { Y[m * p.N + n] = part[0][m]; }
  }
}`,
};
