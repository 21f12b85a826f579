/**
 * Vectorised matrix–vector products for decoding (a few rows times a PyTorch-layout weight (N, K)).
 * Measured on the H200: scalar-load gemvs moved 0.3–0.4 TB/s in the decode step (each lane issuing
 * 4 loads at a time, K/128 rounds of memory latency). Here a lane loads vec4s (16 bytes; a weight
 * row's consecutive vec4s across the lanes, so a lane group reads whole cache lines), and the
 * kernels are specialised on K, so the per-lane loop has a constant trip count: the compiler
 * unrolls it and every load of a lane is in flight at once. When K is not a multiple of 4, rows
 * are not 16-byte aligned: each vec4 is then gathered from 4 scalar loads (zeros past K), the
 * same kernels otherwise.
 *
 *   normLinear4     Y[b] = W · RMSNorm(X[b]) (+ bias)    norm_f + LM head
 *   linearResidual4 Y[b] = R[b] + W · X[b] (+ bias)      out_proj + residual
 *   linear4         Y[b] = W · X[b]                      any other decode gemv
 * mamba-step.ts builds in_proj + conv + x_proj on the same body.
 *
 * Rows: up to 4 rows are one block, specialised (the per-row sums are the lanes of one vec4). A
 * larger batch (batched decoding, up to hundreds of rows) runs as blocks of GEMV_BLOCK_ROWS rows
 * (the sums in vec4s of 4 rows), the row count a uniform (p.rows) so that one pipeline serves
 * every batch size, and the block index the fastest among the workgroups: the blocks that read a
 * weight row run side by side and share its loads through the cache, so the weights still come
 * from memory about once per step; each block reads them from the cache once, so larger blocks
 * mean less cache traffic (and more registers).
 */
import { envSwitch } from '../../../env.js';
import { cachedKernel, type Kernel } from '../context.js';
import { weightBinding, type WeightDType } from './weights.js';

export const GEMV4_WG = 256;

/**
 * Rows per block of a batch over 4 rows: 8 by default; MAMBA_TS_GEMV_ROWS (4, 8 or 16) overrides
 * it, for benchmarking.
 */
export function gemvBlockRows(): number {
  const env = Number(envSwitch('MAMBA_TS_GEMV_ROWS'));
  return env === 4 || env === 8 || env === 16 ? env : 8;
}
/** The most rows the gemv kernels take (a decode batch); a larger product is a matmul. */
export const GEMV4_MAX_ROWS = 256;

/**
 * The rows of a kernel: `rows` (<= 4) specialised into one block, or (`blocked`) blocks of gemvBlockRows() rows
 * over a row count given at run time in the uniforms.
 */
export interface RowBlocks {
  readonly rows: number;
  readonly blocked: boolean;
  /** Blocks of `rows` rows that cover the batch (1 when not blocked). */
  readonly blocks: number;
}

export function rowBlocks(B: number): RowBlocks {
  if (B <= 4) return { rows: B, blocked: false, blocks: 1 };
  const rows = gemvBlockRows();
  return { rows, blocked: true, blocks: Math.ceil(B / rows) };
}

/** A name for the layout, for kernel keys. */
export function rowsKey(rb: RowBlocks): string {
  return rb.blocked ? `blocked${rb.rows}` : String(rb.rows);
}

/**
 * Workgroups of a gemv over K inputs with `outputs` outputs, for each block of rows, as a 2-D grid
 * (65535 per dimension).
 */
export function gemvGrid(outputs: number, K: number, rb: RowBlocks): [number, number] {
  const groups = Math.ceil(outputs / gemv4PerGroup(K)) * rb.blocks;
  // As few rows of workgroups as the limit allows, each as even as possible: the workgroups past
  // the last (gx · gy > groups) still run their loops, writing nothing.
  const gy = Math.ceil(groups / 65535);
  return [Math.ceil(groups / gy), gy];
}

/** WGSL for row b's (an expression) value in a per-row array of vec4s `v`. */
export function rowOf(v: string, b: string): string {
  return `${v}[(${b}) / 4u][(${b}) % 4u]`;
}

/** Lanes per output: enough that a lane's loads fit in registers (≤ 8 vec4s), at least 16. */
export function gemv4Lanes(K: number): number {
  const K4 = Math.ceil(K / 4);
  let lanes = 16;
  while (lanes < 64 && Math.ceil(K4 / lanes) > 8) lanes *= 2;
  return lanes;
}

/** Outputs per workgroup for a K. */
export function gemv4PerGroup(K: number): number {
  return GEMV4_WG / gemv4Lanes(K);
}

/**
 * An (rows, K) f32 operand `name` at `binding`, read as vec4 e of row r with `<name>_at4(r, e)`:
 * one 16-byte load when K % 4 == 0, else 4 scalar loads with zeros past K.
 */
export function vec4Operand(name: string, binding: number, K: number, access = 'read'): string {
  const K4 = Math.ceil(K / 4);
  if (K % 4 === 0) {
    return `@group(0) @binding(${binding}) var<storage, ${access}> ${name}: array<vec4<f32>>;
fn ${name}_at4(r: u32, e: u32) -> vec4<f32> { return ${name}[r * ${K4}u + e]; }`;
  }
  return `@group(0) @binding(${binding}) var<storage, ${access}> ${name}: array<f32>;
${gather(name, K, (i) => `${name}[${i}]`)}`;
}

/**
 * fn `<name>_at4(r, e)` gathering elements 4e..4e+3 of row r through `load(index)`: zeros past K,
 * every index clamped into the row (the kernels run without robust buffer access).
 */
function gather(name: string, K: number, load: (i: string) => string): string {
  const lane = (j: number) => `select(0.0, ${load(`min(b + ${j}u, last)`)}, 4u * e + ${j}u < ${K}u)`;
  return `fn ${name}_at4(r: u32, e: u32) -> vec4<f32> {
  let b = r * ${K}u + 4u * e;
  let last = r * ${K}u + ${K - 1}u;
  return vec4<f32>(${lane(0)}, ${lane(1)}, ${lane(2)}, ${lane(3)});
}`;
}

/**
 * The (N, K) weight `name` at `binding`, read as vec4 e of row n with `<name>_at4(n, e)`: as vec4s
 * of f32 or 4 packed halves (bf16/f16) when K % 4 == 0, else gathered from scalar reads.
 */
export function weight4Binding(name: string, binding: number, K: number, dt: WeightDType): string {
  const K4 = K / 4;
  if (K % 4 !== 0) return `${weightBinding(`${name}_s`, binding, dt)}\n${gather(name, K, (i) => `${name}_s_at(${i})`)}`;
  if (dt === 'f32') {
    return `@group(0) @binding(${binding}) var<storage, read> ${name}: array<vec4<f32>>;
fn ${name}_at4(n: u32, e: u32) -> vec4<f32> { return ${name}[n * ${K4}u + e]; }`;
  }
  const unpack =
    dt === 'bf16'
      ? `return vec4<f32>(bitcast<f32>(w.x << 16u), bitcast<f32>(w.x & 0xffff0000u), bitcast<f32>(w.y << 16u), bitcast<f32>(w.y & 0xffff0000u));`
      : `return vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y));`;
  return `@group(0) @binding(${binding}) var<storage, read> ${name}: array<vec2<u32>>;
fn ${name}_at4(n: u32, e: u32) -> vec4<f32> { let w = ${name}[n * ${K4}u + e]; ${unpack} }`;
}

/**
 * The start of every gemv kernel: thread t, workgroup wg, the batch's row count BT, this
 * workgroup's first row r0 (block rb) and its output slot (slot · per-group outputs is its first
 * output). Needs uniforms p.gx (workgroups along x) and, when blocked, p.rows.
 */
export function gemv4Prologue(rb: RowBlocks): string {
  const head = `
  let t = lid.x;
  let wg = wid.x + wid.y * p.gx;`;
  if (!rb.blocked) return `${head}
  let BT = ${rb.rows}u;
  let r0 = 0u;
  let slot = wg;`;
  return `${head}
  let BT = p.rows;
  let blocks = (BT + ${rb.rows - 1}u) / ${rb.rows}u;
  let r0 = (wg % blocks) * ${rb.rows}u;
  let slot = wg / blocks;`;
}

/** Workgroup memory of the lane sums (gemv4Body): one vec4 of rows per thread, reused for each 4 rows. */
export function gemv4Shared(squares: boolean): string {
  return `${squares ? `var<workgroup> rs: array<vec4<f32>, ${GEMV4_WG}>;\n` : ''}var<workgroup> rd: array<vec4<f32>, ${GEMV4_WG}>;`;
}

/**
 * The shared body (after gemv4Prologue): lane `lane` of the group for output n accumulates
 * s[b] = Σ W[n]·x[b] (and, with `squares`, ss[b] = Σ x[b]²) over its vec4s, the rows as vec4s of
 * 4; then the group's lanes are summed in workgroup memory (gemv4Shared), 4 rows at a time, into
 * `dsum` (and `dsq`), arrays of vec4s valid in the group's lane 0: row b is rowOf('dsum', b).
 * Reads X_at4 (rows r0.. of the batch; past the batch's end, its last row again) and W_at4;
 * `wScale` (WGSL, may use e) multiplies the weight vec4 (the norm weight); `N` is WGSL for the
 * number of outputs.
 */
export function gemv4Body(rb: RowBlocks, K: number, squares: boolean, wScale: string | null, N = 'p.N'): string {
  const lanes = gemv4Lanes(K);
  const K4 = Math.ceil(K / 4);
  const iters = Math.ceil(K4 / lanes);
  const guard = K4 % lanes !== 0;
  const rows = rb.rows;
  const Q = Math.ceil(rows / 4);
  // The row loop unrolled here, so that every accumulator index is a constant (registers).
  const perRow = Array.from({ length: rows }, (_, b) => {
    const at = `[${b >> 2}][${b & 3}]`;
    return `{ let x = X_at4(min(r0 + ${b}u, BT - 1u), e); s${at} += dot(x, w);${squares ? ` ss${at} += dot(x, x);` : ''} }`;
  }).join('\n        ');
  const reduce = Array.from({ length: Q }, (_, q) => `
  ${squares ? `rs[t] = ss[${q}];` : ''}
  rd[t] = s[${q}];
  workgroupBarrier();
  for (var o = ${lanes / 2}u; o > 0u; o >>= 1u) {
    if (lane < o) { ${squares ? 'rs[t] += rs[t + o]; ' : ''}rd[t] += rd[t + o]; }
    workgroupBarrier();
  }
  dsum[${q}] = rd[t];${squares ? `\n  dsq[${q}] = rs[t];` : ''}
  workgroupBarrier();`).join('');
  return `
  let lane = t % ${lanes}u;
  let n = slot * ${GEMV4_WG / lanes}u + t / ${lanes}u;
  let live = n < ${N};
  let nr = min(n, ${N} - 1u); // rows past N read the last row and write nothing
  var s: array<vec4<f32>, ${Q}>;
  var ss: array<vec4<f32>, ${Q}>;
  for (var i = 0u; i < ${iters}u; i++) {
    let e = lane + i * ${lanes}u;
    ${guard ? `if (e < ${K4}u) {` : '{'}
      let w = W_at4(nr, e)${wScale ? ` * ${wScale}` : ''};
        ${perRow}
    }
  }
  var dsum: array<vec4<f32>, ${Q}>;
  var dsq: array<vec4<f32>, ${Q}>;${reduce}`;
}

const header = (rb: RowBlocks, K: number, wt: WeightDType) => `
const ROWS = ${rb.rows}u;
${vec4Operand('X', 0, K)}   // (B, K)
${weight4Binding('W', 1, K, wt)}                                        // (N, K)
@group(0) @binding(2) var<storage, read> bias: array<f32>;      // (N), read when p.hasBias == 1
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;   // (B, N)`;

/** Y[b] = W · RMSNorm(X[b]; nw, eps) (+ bias): RMSNorm scales a row by one number, applied after the dot. */
export function normLinear4Kernel(rb: RowBlocks, K: number, wt: WeightDType): Kernel {
  return cachedKernel(`normLinear4_${rowsKey(rb)}_${K}_${wt}`, () => ({
    key: `gemv4_norm_linear_${rowsKey(rb)}_${K}_${wt}`,
    code: () => /* wgsl */ `
struct P { N: u32, gx: u32, eps: f32, hasBias: u32, rows: u32 }
${header(rb, K, wt)}
${vec4Operand('NW', 4, K)}  // (K) norm weight
@group(0) @binding(5) var<uniform> p: P;
${gemv4Shared(true)}
@compute @workgroup_size(${GEMV4_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  ${gemv4Prologue(rb)}
  ${gemv4Body(rb, K, true, 'NW_at4(0u, e)')}
  if (t % ${gemv4Lanes(K)}u == 0u && live) {
    var bv = 0.0;
    if (p.hasBias == 1u) { bv = bias[n]; }
    for (var b = 0u; b < ROWS; b++) {
      let inv = inverseSqrt(${rowOf('dsq', 'b')} / f32(${K}u) + p.eps);
      if (r0 + b < BT) { Y[(r0 + b) * p.N + n] = ${rowOf('dsum', 'b')} * inv + bv; }
    }
  }
}`,
  }));
}

/** Y[b] = W · X[b] (+ bias), plus R[b] with `residual` (binding 4; the uniforms move to 5). */
function linearKernel(rb: RowBlocks, K: number, wt: WeightDType, residual: boolean): Kernel {
  const name = residual ? 'linear_residual' : 'linear';
  return cachedKernel(`gemv4_${name}_${rowsKey(rb)}_${K}_${wt}`, () => ({
    key: `gemv4_${name}_${rowsKey(rb)}_${K}_${wt}`,
    code: () => /* wgsl */ `
struct P { N: u32, gx: u32, hasBias: u32, rows: u32 }
${header(rb, K, wt)}
${residual ? '@group(0) @binding(4) var<storage, read> R: array<f32>;         // (B, N) residual' : ''}
@group(0) @binding(${residual ? 5 : 4}) var<uniform> p: P;
${gemv4Shared(false)}
@compute @workgroup_size(${GEMV4_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  ${gemv4Prologue(rb)}
  ${gemv4Body(rb, K, false, null)}
  if (t % ${gemv4Lanes(K)}u == 0u && live) {
    var bv = 0.0;
    if (p.hasBias == 1u) { bv = bias[n]; }
    for (var b = 0u; b < ROWS; b++) {
      let r = r0 + b;
      if (r < BT) { Y[r * p.N + n] = ${residual ? 'R[r * p.N + n] + ' : ''}${rowOf('dsum', 'b')} + bv; }
    }
  }
}`,
  }));
}

/** Y[b] = R[b] + W · X[b] (+ bias). */
export function linearResidual4Kernel(rb: RowBlocks, K: number, wt: WeightDType): Kernel {
  return linearKernel(rb, K, wt, true);
}

/** Y[b] = W · X[b] (+ bias). */
export function linear4Kernel(rb: RowBlocks, K: number, wt: WeightDType): Kernel {
  return linearKernel(rb, K, wt, false);
}
