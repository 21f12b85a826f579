/**
 * The selective scan on the GPU, fused and chunked; the (B, L, D, N) state never touches memory.
 * L is cut into chunks of T tokens; a thread owns one (batch, chunk, channel) and keeps its N
 * states in registers.
 *
 *   1. chunk states  (thread b, c, d): walk the chunk from h = 0 with
 *                    Δ = softplus(δ + bias), h = exp(ΔA)·h + Δ·B·u; write the end state and ΣΔ.
 *   2. carry         (thread b, d, n): the state entering each chunk,
 *                    H[c+1] = exp(A·ΣΔ_c)·H[c] + h_end[c], H[0] = initial state. These
 *                    chunk-boundary states (B, nC+1, D, N) are what a backward pass keeps.
 *   3. outputs       (thread b, c, d): walk the chunk again from H[c] (recomputing, as the CUDA
 *                    kernel's backward does) and write y = (C·h + D·u) · silu(z).
 * A sequence that fits one chunk (decoding, short prompts) needs only step 3, from the initial state.
 * Step 3 is scan-reference.ts's loop; steps 1–2 are scan-chunked.ts's stitching.
 *
 * Per-channel parameters come packed in one buffer SP = [A (D, N) | D (D) | Δ bias (D)] (absent ones
 * as zeros), so that no kernel binds more than 8 storage buffers (WebGPU's default limit).
 */
import { envSwitch } from '../../../env.js';
import { FLAT_INDEX, WG, type Kernel } from '../context.js';

export const SCAN_WG = 64;

const PARAMS = /* wgsl */ `
struct P { B: u32, L: u32, D: u32, T: u32, nC: u32, hasZ: u32, hasH0: u32, softplus: u32, h0Chunks: u32 }
fn softplus(x: f32) -> f32 { return select(log(1.0 + exp(x)), x, x > 20.0); }
fn silu(x: f32) -> f32 { return x / (1.0 + exp(-x)); }
// A is pre-scaled by log2 e so that exp(ΔA) = exp2(Δ·A·log2 e): the GPU's native exponential is exp2.
const LOG2E = 1.4426950408889634;
`;

/**
 * Time steps whose per-channel loads are issued together (see timeLoop). MAMBA_TS_SCAN_PREFETCH
 * overrides it, for benchmarking.
 */
const PREFETCH = (() => {
  const env = Number(envSwitch('MAMBA_TS_SCAN_PREFETCH'));
  return Number.isInteger(env) && env > 0 && env <= 64 ? env : 8;
})();

/**
 * The walk over t in [t0, t1) of a chunk, PREFETCH steps at a time: the loads of a block's δ, u
 * (and z) are issued together before the block's recurrence, so a thread waits for memory once per
 * block rather than once per step (the loop is latency-bound otherwise: a thread walks its chunk
 * sequentially). `step(t, δ, u, z)` is WGSL for one step given WGSL expressions for its values;
 * z's reads Z, so the step evaluates it only where p.hasZ == 1 (without z the Z binding is a
 * stand-in buffer, and with Dawn's robustness off a read past its end is undefined: select()
 * would evaluate it anyway).
 */
function timeLoop(withZ: boolean, step: (t: string, dl: string, u: string, z: string) => string): string {
  return `var t = t0;
  for (; t + ${PREFETCH}u <= t1; t += ${PREFETCH}u) {
    var dlv: array<f32, ${PREFETCH}>;
    var uv: array<f32, ${PREFETCH}>;
    ${withZ ? `var zv: array<f32, ${PREFETCH}>;` : ''}
    for (var j = 0u; j < ${PREFETCH}u; j++) {
      let i = (b * p.L + t + j) * p.D + d;
      dlv[j] = Dl[i];
      uv[j] = U[i];
      ${withZ ? 'if (p.hasZ == 1u) { zv[j] = Z[i]; }' : ''}
    }
    for (var j = 0u; j < ${PREFETCH}u; j++) { ${step('t + j', 'dlv[j]', 'uv[j]', 'zv[j]')} }
  }
  for (; t < t1; t++) {
    let i = (b * p.L + t) * p.D + d;
    ${step('t', 'Dl[i]', 'U[i]', withZ ? 'Z[i]' : '0.0')}
  }`;
}


/**
 * How a thread holds its N states: as N/4 vec4s when N is a multiple of 4 (B and C rows are then
 * read 16 bytes at a time, and exp2/fma run on vectors), as N scalars otherwise. The loops over
 * the state words are unrolled here (up to 16 words), so the state arrays stay in registers rather
 * than in the thread's local memory. MAMBA_TS_SCAN_VEC4=0 forces scalars, for benchmarking.
 */
interface StateLayout {
  /** f32 or vec4<f32>. */
  ty: string;
  /** State words: N or N/4. */
  words: number;
  /** WGSL for `body(k)` over every word k, unrolled when short. */
  each: (body: (k: string) => string) => string;
  /** WGSL turning a word-typed accumulator into the f32 sum of its lanes. */
  sum: (v: string) => string;
}
const VEC4 = typeof process === 'undefined' || process.env['MAMBA_TS_SCAN_VEC4'] !== '0';
function stateLayout(N: number): StateLayout {
  const vec = VEC4 && N % 4 === 0;
  const words = vec ? N / 4 : N;
  return {
    ty: vec ? 'vec4<f32>' : 'f32',
    words,
    each: (body) =>
      words <= 16
        ? Array.from({ length: words }, (_, k) => `{ ${body(`${k}u`)} }`).join('\n    ')
        : `for (var k = 0u; k < ${words}u; k++) { ${body('k')} }`,
    sum: (v) => (vec ? `dot(${v}, vec4<f32>(1.0))` : v),
  };
}

/** The chunk kernels' parameters and first bindings: u, δ and the packed SSM parameters. */
function chunkKernelHead(N: number, S: StateLayout): string {
  return `${PARAMS}
const NS = ${N}u;
const NW = ${S.words}u;
@group(0) @binding(0) var<storage, read> U: array<f32>;        // (B, L, D)
@group(0) @binding(1) var<storage, read> Dl: array<f32>;       // (B, L, D) δ before bias
@group(0) @binding(2) var<storage, read> SP: array<f32>;       // [A (D, N) | D (D) | bias (D)]`;
}

/** A chunk kernel's thread: channel d of chunk c of sequence b (workgroups (D / SCAN_WG, nC, B)). */
const CHUNK_THREAD = `@compute @workgroup_size(${SCAN_WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let d = gid.x;
  let c = wid.y;
  let b = wid.z;
  if (d >= p.D) { return; }`;

/** Step 1: each chunk's end state from a zero start, and its Σ Δ. */
export function scanChunkStateKernel(N: number): Kernel {
  const S = stateLayout(N);
  return {
    key: `scan_state_${N}_p${PREFETCH}_${S.ty}`,
    code: () => /* wgsl */ `
${chunkKernelHead(N, S)}
@group(0) @binding(3) var<storage, read> Bm: array<${S.ty}>;   // (B, L, N)
@group(0) @binding(4) var<storage, read_write> hEnd: array<${S.ty}>; // (B, nC, D, N)
@group(0) @binding(5) var<storage, read_write> dSum: array<f32>; // (B, nC, D)
@group(0) @binding(6) var<uniform> p: P;
${CHUNK_THREAD}
  var h: array<${S.ty}, NW>;
  var a: array<${S.ty}, NW>;
  ${S.each((k) => `a[${k}] = ${loadA(S, k)} * LOG2E; h[${k}] = ${S.ty}(0.0);`)}
  let dBias = SP[p.D * NS + p.D + d];
  let t0 = c * p.T;
  let t1 = min(p.L, (c + 1u) * p.T);
  var sum = 0.0;
  ${timeLoop(false, (t, dl, u) => `{
    var dt = ${dl} + dBias;
    if (p.softplus == 1u) { dt = softplus(dt); }
    sum += dt;
    let du = dt * ${u};
    let bc = (b * p.L + ${t}) * NW;
    ${S.each((k) => `h[${k}] = fma(exp2(dt * a[${k}]), h[${k}], du * Bm[bc + ${k}]);`)}
  }`)}
  let o = (b * p.nC + c) * p.D + d;
  ${S.each((k) => `hEnd[o * NW + ${k}] = h[${k}];`)}
  dSum[o] = sum;
}`,
  };
}

/** WGSL for state word k of A (D, N) at channel d, from the packed parameters SP. */
function loadA(S: StateLayout, k: string): string {
  if (S.ty === 'f32') return `SP[d * NS + ${k}]`;
  const at = (j: number) => `SP[d * NS + 4u * ${k} + ${j}u]`;
  return `vec4<f32>(${at(0)}, ${at(1)}, ${at(2)}, ${at(3)})`;
}

/** Step 2: thread per (b, d, n), sequential over the chunks. */
export function scanCarryKernel(N: number): Kernel {
  return {
    key: `scan_carry_${N}`,
    code: () => /* wgsl */ `
${PARAMS}
const NS = ${N}u;
@group(0) @binding(0) var<storage, read> SP: array<f32>;       // [A (D, N) | ...]
@group(0) @binding(1) var<storage, read> dSum: array<f32>;     // (B, nC, D)
@group(0) @binding(2) var<storage, read> hEnd: array<f32>;     // (B, nC, D, N)
@group(0) @binding(3) var<storage, read> H0: array<f32>;       // (B, D, N)
@group(0) @binding(4) var<storage, read_write> H: array<f32>;  // (B, nC+1, D, N)
@group(0) @binding(5) var<storage, read_write> last: array<f32>; // (B, D, N)
@group(0) @binding(6) var<uniform> p: P;
${FLAT_INDEX}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= p.B * p.D * NS) { return; }
  let n = i % NS;
  let d = (i / NS) % p.D;
  let b = i / (NS * p.D);
  let a = SP[d * NS + n] * LOG2E;
  var carry = 0.0;
  if (p.hasH0 == 1u) { carry = H0[i]; }
  H[((b * (p.nC + 1u)) * p.D + d) * NS + n] = carry;
  // Four chunks at a time: their loads and exps do not depend on the carry, so they are issued
  // together and only the fma chain is sequential (the loop is latency-bound otherwise).
  var c = 0u;
  for (; c + 4u <= p.nC; c += 4u) {
    var decay: array<f32, 4>;
    var add: array<f32, 4>;
    for (var j = 0u; j < 4u; j++) {
      let o = (b * p.nC + c + j) * p.D + d;
      decay[j] = exp2(a * dSum[o]);
      add[j] = hEnd[o * NS + n];
    }
    for (var j = 0u; j < 4u; j++) {
      carry = fma(decay[j], carry, add[j]);
      H[((b * (p.nC + 1u) + c + j + 1u) * p.D + d) * NS + n] = carry;
    }
  }
  for (; c < p.nC; c++) {
    let o = (b * p.nC + c) * p.D + d;
    carry = fma(exp2(a * dSum[o]), carry, hEnd[o * NS + n]);
    H[((b * (p.nC + 1u) + c + 1u) * p.D + d) * NS + n] = carry;
  }
  last[i] = carry;
}`,
  };
}

/**
 * Step 3: outputs of a chunk from its entering state, read from HS laid out (B, h0Chunks, D, N):
 * with one chunk, HS is the last-state buffer (holding the initial state when there is one) and is
 * overwritten with the final state; with several, HS holds the carried states and is only read.
 */
export function scanOutputKernel(N: number): Kernel {
  const S = stateLayout(N);
  return {
    key: `scan_output_${N}_p${PREFETCH}_${S.ty}`,
    code: () => /* wgsl */ `
${chunkKernelHead(N, S)}
@group(0) @binding(3) var<storage, read> Bm: array<${S.ty}>;   // (B, L, N)
@group(0) @binding(4) var<storage, read> Cm: array<${S.ty}>;   // (B, L, N)
@group(0) @binding(5) var<storage, read> Z: array<f32>;        // (B, L, D)
@group(0) @binding(6) var<storage, read_write> HS: array<${S.ty}>; // (B, h0Chunks, D, N)
@group(0) @binding(7) var<storage, read_write> Y: array<f32>;  // (B, L, D)
@group(0) @binding(8) var<uniform> p: P;
${CHUNK_THREAD}
  var h: array<${S.ty}, NW>;
  var a: array<${S.ty}, NW>;
  let hb = ((b * p.h0Chunks + c) * p.D + d) * NW;
  ${S.each((k) => `a[${k}] = ${loadA(S, k)} * LOG2E;
    h[${k}] = ${S.ty}(0.0);
    if (p.hasH0 == 1u) { h[${k}] = HS[hb + ${k}]; }`)}
  let dSkip = SP[p.D * NS + d];
  let dBias = SP[p.D * NS + p.D + d];
  let t0 = c * p.T;
  let t1 = min(p.L, (c + 1u) * p.T);
  ${timeLoop(true, (t, dl, u, z) => `{
    let ti = ${t};
    var dt = ${dl} + dBias;
    if (p.softplus == 1u) { dt = softplus(dt); }
    let u = ${u};
    let du = dt * u;
    let bc = (b * p.L + ti) * NW;
    var yw = ${S.ty}(0.0);
    ${S.each((k) => `h[${k}] = fma(exp2(dt * a[${k}]), h[${k}], du * Bm[bc + ${k}]);
      yw = fma(Cm[bc + ${k}], h[${k}], yw);`)}
    var y = fma(dSkip, u, ${S.sum('yw')});
    if (p.hasZ == 1u) { y = y * silu(${z}); }
    Y[(b * p.L + ti) * p.D + d] = y;
  }`)}
  if (p.nC == 1u) {
    ${S.each((k) => `HS[(b * p.D + d) * NW + ${k}] = h[${k}];`)}
  }
}`,
  };
}

/**
 * One decode step: thread per (b, d). S1 holds the state on entry (copied from the input state)
 * and is updated in place.
 */
export function stateUpdateKernel(N: number): Kernel {
  return {
    key: `state_update_${N}`,
    code: () => /* wgsl */ `
struct P { B: u32, D: u32, hasZ: u32, softplus: u32 }
fn softplus(x: f32) -> f32 { return select(log(1.0 + exp(x)), x, x > 20.0); }
const NS = ${N}u;
@group(0) @binding(0) var<storage, read> X: array<f32>;        // (B, D)
@group(0) @binding(1) var<storage, read> Dt: array<f32>;       // (B, D)
@group(0) @binding(2) var<storage, read> SP: array<f32>;       // [A (D, N) | D (D) | bias (D)]
@group(0) @binding(3) var<storage, read> Bm: array<f32>;       // (B, N)
@group(0) @binding(4) var<storage, read> Cm: array<f32>;       // (B, N)
@group(0) @binding(5) var<storage, read> Z: array<f32>;        // (B, D)
@group(0) @binding(6) var<storage, read_write> Y: array<f32>;  // (B, D)
@group(0) @binding(7) var<storage, read_write> S1: array<f32>; // (B, D, N)
@group(0) @binding(8) var<uniform> p: P;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= p.B * p.D) { return; }
  let d = i % p.D;
  let b = i / p.D;
  var dt = Dt[i] + SP[p.D * NS + p.D + d];
  if (p.softplus == 1u) { dt = softplus(dt); }
  let u = X[i];
  var y = 0.0;
  for (var n = 0u; n < NS; n++) {
    let h = fma(exp(dt * SP[d * NS + n]), S1[i * NS + n], dt * Bm[b * NS + n] * u);
    S1[i * NS + n] = h;
    y = fma(Cm[b * NS + n], h, y);
  }
  y = fma(SP[p.D * NS + d], u, y);
  if (p.hasZ == 1u) { y = y * (Z[i] / (1.0 + exp(-Z[i]))); }
  Y[i] = y;
}`,
  };
}
