/**
 * Vectorised matrix–vector products for decoding (a few rows times a PyTorch-layout weight (N, K)),
 * for K a multiple of 4. Measured on the H200: the scalar-load gemvs of mamba-step.ts moved 0.3–0.4
 * TB/s in the decode step (each lane issuing 4 loads at a time, K/128 rounds of memory latency).
 * Here a lane loads vec4s (16 bytes; a weight row's consecutive vec4s across the lanes, so a lane
 * group reads whole cache lines), and the kernels are specialised on K, so the per-lane loop has a
 * constant trip count: the compiler unrolls it and every load of a lane is in flight at once.
 *
 *   normLinear4     Y[b] = W · RMSNorm(X[b]) (+ bias)    in_proj; norm_f + LM head
 *   linearResidual4 Y[b] = R[b] + W · X[b] (+ bias)      out_proj + residual
 *   linear4         Y[b] = W · X[b]                      any other decode gemv
 */
import { cachedKernel, type Kernel } from '../context.js';
import type { WeightDType } from './weights.js';

export const GEMV4_WG = 256;
export const GEMV4_MAX_ROWS = 4;

/** Lanes per output: enough that a lane's loads fit in registers (≤ 8 vec4s), at least 16. */
export function gemv4Lanes(K: number): number {
  const K4 = K / 4;
  let lanes = 16;
  while (lanes < 64 && Math.ceil(K4 / lanes) > 8) lanes *= 2;
  return lanes;
}

/** Outputs per workgroup for a K. */
export function gemv4PerGroup(K: number): number {
  return GEMV4_WG / gemv4Lanes(K);
}

/** Binding `name` as vec4s of f32 (f32) or as 4 packed halves (bf16/f16), read with `<name>_at4(i)`. */
export function weight4Binding(name: string, binding: number, dt: WeightDType): string {
  if (dt === 'f32') {
    return `@group(0) @binding(${binding}) var<storage, read> ${name}: array<vec4<f32>>;
fn ${name}_at4(i: u32) -> vec4<f32> { return ${name}[i]; }`;
  }
  const unpack =
    dt === 'bf16'
      ? `return vec4<f32>(bitcast<f32>(w.x << 16u), bitcast<f32>(w.x & 0xffff0000u), bitcast<f32>(w.y << 16u), bitcast<f32>(w.y & 0xffff0000u));`
      : `return vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y));`;
  return `@group(0) @binding(${binding}) var<storage, read> ${name}: array<vec2<u32>>;
fn ${name}_at4(i: u32) -> vec4<f32> { let w = ${name}[i]; ${unpack} }`;
}

/**
 * The shared body: lane `lane` of the group for output n accumulates s[b] = Σ W[n]·x[b] (and, with
 * `squares`, ss[b] = Σ x[b]²) over its vec4s, then the group's lanes are summed in workgroup memory.
 * `wScale` (WGSL, may use e) multiplies the weight vec4 (the norm weight); `N` is WGSL for the
 * number of outputs.
 */
export function gemv4Body(rows: number, K: number, squares: boolean, wScale: string | null, N = 'p.N'): string {
  const lanes = gemv4Lanes(K);
  const K4 = K / 4;
  const iters = Math.ceil(K4 / lanes);
  const guard = K4 % lanes !== 0;
  const trees = squares ? ['rs', 'rd'] : ['rd'];
  return `
  let t = lid.x;
  let lane = t % ${lanes}u;
  let n = (wid.x + wid.y * p.gx) * ${GEMV4_WG / lanes}u + t / ${lanes}u;
  let live = n < ${N};
  let row = min(n, ${N} - 1u) * ${K4}u; // rows past N read the last row and write nothing
  var s = vec4<f32>(0.0);
  var ss = vec4<f32>(0.0);
  for (var i = 0u; i < ${iters}u; i++) {
    let e = lane + i * ${lanes}u;
    ${guard ? `if (e < ${K4}u) {` : '{'}
      let w = W_at4(row + e)${wScale ? ` * ${wScale}` : ''};
      for (var b = 0u; b < ${rows}u; b++) {
        let x = X[b * ${K4}u + e];
        s[b] += dot(x, w);
        ${squares ? 'ss[b] += dot(x, x);' : ''}
      }
    }
  }
  ${squares ? 'rs[t] = ss;' : ''}
  rd[t] = s;
  workgroupBarrier();
  for (var o = ${lanes / 2}u; o > 0u; o >>= 1u) {
    if (lane < o) { ${trees.map((a) => `${a}[t] += ${a}[t + o];`).join(' ')} }
    workgroupBarrier();
  }`;
}

const header = (rows: number, wt: WeightDType) => `
const ROWS = ${rows}u;
@group(0) @binding(0) var<storage, read> X: array<vec4<f32>>;   // (B, K) as vec4s
${weight4Binding('W', 1, wt)}                                        // (N, K)
@group(0) @binding(2) var<storage, read> bias: array<f32>;      // (N), read when p.hasBias == 1
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;   // (B, N)`;

/** Y[b] = W · RMSNorm(X[b]; nw, eps) (+ bias): RMSNorm scales a row by one number, applied after the dot. */
export function normLinear4Kernel(rows: number, K: number, wt: WeightDType): Kernel {
  return cachedKernel(`normLinear4_${rows}_${K}_${wt}`, () => ({
    key: `gemv4_norm_linear_${rows}_${K}_${wt}`,
    code: () => /* wgsl */ `
struct P { N: u32, gx: u32, eps: f32, hasBias: u32 }
${header(rows, wt)}
@group(0) @binding(4) var<storage, read> nw: array<vec4<f32>>;  // (K) norm weight
@group(0) @binding(5) var<uniform> p: P;
var<workgroup> rs: array<vec4<f32>, ${GEMV4_WG}>;
var<workgroup> rd: array<vec4<f32>, ${GEMV4_WG}>;
@compute @workgroup_size(${GEMV4_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  ${gemv4Body(rows, K, true, 'nw[e]')}
  if (t % ${gemv4Lanes(K)}u == 0u && live) {
    let inv = inverseSqrt(rs[t] / f32(${K}u) + vec4<f32>(p.eps));
    var bv = 0.0;
    if (p.hasBias == 1u) { bv = bias[n]; }
    for (var b = 0u; b < ROWS; b++) { Y[b * p.N + n] = rd[t][b] * inv[b] + bv; }
  }
}`,
  }));
}

/** Y[b] = W · X[b] (+ bias), plus R[b] with `residual` (binding 4; the uniforms move to 5). */
function linearKernel(rows: number, K: number, wt: WeightDType, residual: boolean): Kernel {
  const name = residual ? 'linear_residual' : 'linear';
  return cachedKernel(`gemv4_${name}_${rows}_${K}_${wt}`, () => ({
    key: `gemv4_${name}_${rows}_${K}_${wt}`,
    code: () => /* wgsl */ `
struct P { N: u32, gx: u32, hasBias: u32 }
${header(rows, wt)}
${residual ? '@group(0) @binding(4) var<storage, read> R: array<f32>;         // (B, N) residual' : ''}
@group(0) @binding(${residual ? 5 : 4}) var<uniform> p: P;
var<workgroup> rd: array<vec4<f32>, ${GEMV4_WG}>;
@compute @workgroup_size(${GEMV4_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  ${gemv4Body(rows, K, false, null)}
  if (t % ${gemv4Lanes(K)}u == 0u && live) {
    var bv = 0.0;
    if (p.hasBias == 1u) { bv = bias[n]; }
    for (var b = 0u; b < ROWS; b++) { Y[b * p.N + n] = ${residual ? 'R[b * p.N + n] + ' : ''}rd[t][b] + bv; }
  }
}`,
  }));
}

/** Y[b] = R[b] + W · X[b] (+ bias). */
export function linearResidual4Kernel(rows: number, K: number, wt: WeightDType): Kernel {
  return linearKernel(rows, K, wt, true);
}

/** Y[b] = W · X[b] (+ bias). */
export function linear4Kernel(rows: number, K: number, wt: WeightDType): Kernel {
  return linearKernel(rows, K, wt, false);
}
