/**
 * The selective scan's backward on the GPU: fused, chunked, never storing the (B, L, D, N) states.
 * The forward's steps 1–2 (scan.ts) first recompute the chunk-boundary states H (B, nC+1, D, N).
 * The gradient w.r.t. the state, dh, runs backwards: dh_{t−1} = a_t ⊙ (dh_t + dy_t C_t), with
 * a_t = exp(Δ_t A). It does not depend on the states, so it is carried over chunks like the forward:
 *
 *   1. local dh      (thread b, c, d): walk chunk c backwards from dh = 0; its result is chunk c's
 *                    own contribution to the gradient of the state entering it.
 *   2. reverse carry (thread b, d, n): DH[c] = exp(A·ΣΔ_c)·DH[c+1] + local[c], DH[nC] = gLast;
 *                    DH[0] is the initial state's gradient.
 *   3. gradients     (workgroup b, c, block of channels; thread d, n): recompute the chunk's T
 *                    states from H[c] into a private array, then walk back from DH[c+1] writing
 *                    du, dδ, dz and partial sums of dB, dC (over the block's channels) and of dA,
 *                    dD, dbias (over the chunk). Sums over n go through workgroup memory.
 *   4. reductions    dA, dD, dbias over (b, c); dB, dC over the channel blocks.
 * WGSL has no float atomics, hence the partial sums and the small reduction kernels.
 *
 * No kernel binds more than 8 storage buffers: step 3 reads packed inputs IN = [u | δ | gOut | z]
 * (each (B, L, D)), BC = [B | C] (each (B, L, N)) and HH = [H | DH] (each (B, nC+1, D, N)), and
 * the per-channel parameters SP = [A (D, N) | D (D) | Δ bias (D)] as the forward does.
 */
import { FLAT_INDEX, WG, cachedKernel, type Kernel } from '../context.js';

export const SCAN_BWD_WG = 64;

/** About the channels a workgroup of step 3 handles (in sub-blocks of `dk` channels × N states). */
export const SCAN_BWD_CHANNELS = 64;

/** Step 3's layout for N states: `dk` channels at once (dk · N ≤ 256 threads), `sub` sub-blocks. */
export function scanBackwardLayout(N: number): { dk: number; sub: number } {
  const dk = Math.max(1, Math.min(64, Math.floor(256 / N)));
  return { dk, sub: Math.max(1, Math.floor(SCAN_BWD_CHANNELS / dk)) };
}

const PARAMS = /* wgsl */ `
struct Q { B: u32, L: u32, D: u32, T: u32, nC: u32, nDG: u32, hasZ: u32, softplus: u32, hasGLast: u32 }
fn softplus(x: f32) -> f32 { return select(log(1.0 + exp(x)), x, x > 20.0); }
fn sigmoid(x: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }
const LOG2E = 1.4426950408889634;
`;

/** Step 1: thread per (b, c, d), N gradients in registers; the states are not needed. */
export function scanLocalDhKernel(N: number): Kernel {
  return cachedKernel(`scan_bwd_local_${N}`, () => ({
    key: `scan_bwd_local_${N}`,
    code: () => /* wgsl */ `
${PARAMS}
const NS = ${N}u;
@group(0) @binding(0) var<storage, read> IN: array<f32>;        // [u | δ | gOut | z], (B, L, D) each
@group(0) @binding(1) var<storage, read> SP: array<f32>;        // [A (D, N) | D (D) | bias (D)]
@group(0) @binding(2) var<storage, read> BC: array<f32>;        // [B | C], (B, L, N) each
@group(0) @binding(3) var<storage, read_write> dhLoc: array<f32>; // (B, nC, D, N)
@group(0) @binding(4) var<uniform> p: Q;
@compute @workgroup_size(${SCAN_BWD_WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let d = gid.x;
  let c = wid.y;
  let b = wid.z;
  if (d >= p.D) { return; }
  let BLD = p.B * p.L * p.D;
  let BLN = p.B * p.L * NS;
  var dh: array<f32, NS>;
  var a: array<f32, NS>;
  for (var n = 0u; n < NS; n++) { a[n] = SP[d * NS + n] * LOG2E; dh[n] = 0.0; }
  let dBias = SP[p.D * NS + p.D + d];
  let t0 = c * p.T;
  let t1 = min(p.L, t0 + p.T);
  for (var k = t1 - t0; k > 0u; k--) {
    let t = t0 + k - 1u;
    let i = (b * p.L + t) * p.D + d;
    var dt = IN[BLD + i] + dBias;
    if (p.softplus == 1u) { dt = softplus(dt); }
    var dy = IN[2u * BLD + i];
    if (p.hasZ == 1u) { let z = IN[3u * BLD + i]; dy = dy * z * sigmoid(z); }
    let bc = BLN + (b * p.L + t) * NS;
    for (var n = 0u; n < NS; n++) { dh[n] = exp2(dt * a[n]) * fma(dy, BC[bc + n], dh[n]); }
  }
  let o = ((b * p.nC + c) * p.D + d) * NS;
  for (var n = 0u; n < NS; n++) { dhLoc[o + n] = dh[n]; }
}`,
  }));
}

/** Step 2: thread per (b, d, n), sequential over the chunks from the last. Writes DH into HH's second half. */
export function scanReverseCarryKernel(N: number): Kernel {
  return cachedKernel(`scan_bwd_carry_${N}`, () => ({
    key: `scan_bwd_carry_${N}`,
    code: () => /* wgsl */ `
${PARAMS}
const NS = ${N}u;
@group(0) @binding(0) var<storage, read> SP: array<f32>;        // [A (D, N) | ...]
@group(0) @binding(1) var<storage, read> dSum: array<f32>;      // (B, nC, D): Σ Δ per chunk
@group(0) @binding(2) var<storage, read> dhLoc: array<f32>;     // (B, nC, D, N)
@group(0) @binding(3) var<storage, read> GL: array<f32>;        // (B, D, N) gradient of the last state
@group(0) @binding(4) var<storage, read_write> HH: array<f32>;  // [H | DH], (B, nC+1, D, N) each
@group(0) @binding(5) var<storage, read_write> dH0: array<f32>; // (B, D, N)
@group(0) @binding(6) var<uniform> p: Q;
${FLAT_INDEX}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= p.B * p.D * NS) { return; }
  let n = i % NS;
  let d = (i / NS) % p.D;
  let b = i / (NS * p.D);
  let a = SP[d * NS + n] * LOG2E;
  let off = p.B * (p.nC + 1u) * p.D * NS;
  var g = 0.0;
  if (p.hasGLast == 1u) { g = GL[i]; }
  HH[off + ((b * (p.nC + 1u) + p.nC) * p.D + d) * NS + n] = g;
  for (var k = p.nC; k > 0u; k--) {
    let o = (b * p.nC + k - 1u) * p.D + d;
    g = fma(exp2(a * dSum[o]), g, dhLoc[o * NS + n]);
    HH[off + ((b * (p.nC + 1u) + k - 1u) * p.D + d) * NS + n] = g;
  }
  dH0[i] = g;
}`,
  }));
}

/**
 * Step 3: workgroup (channel group g, chunk c, batch b); thread (dk, n) owns state n of channel
 * d = (g·sub + s)·dk_count + dk for each sub-block s. Per step, the threads' contributions meet in
 * workgroup memory and are summed there, one thread per sum: over n for each channel (dδ, du, and
 * y for dz), over the block's channels for each state (dB, dC partials). Out-of-range channels
 * read a clamped channel and contribute zeros, so every thread reaches the barriers.
 *
 * PART = [dB, dC partials (2, B, L, N, nDG) | dA partials (B, nC, D, N) | dD, dbias partials (2, B, nC, D)].
 */
export function scanGradKernel(N: number, T: number): Kernel {
  const { dk: DK, sub: SUB } = scanBackwardLayout(N);
  const key = `scan_bwd_grad_${N}_${T}`;
  return cachedKernel(key, () => ({
    key,
    code: () => /* wgsl */ `
${PARAMS}
const NS = ${N}u;
const DK = ${DK}u;
const SUB = ${SUB}u;
const WGS = ${DK * N}u;
const TASKS = ${3 * DK + 2 * N}u; // sums per step: dΔ, du, y per channel; dB, dC per state
@group(0) @binding(0) var<storage, read> IN: array<f32>;         // [u | δ | gOut | z], (B, L, D) each
@group(0) @binding(1) var<storage, read> SP: array<f32>;         // [A (D, N) | D (D) | bias (D)]
@group(0) @binding(2) var<storage, read> BC: array<f32>;         // [B | C], (B, L, N) each
@group(0) @binding(3) var<storage, read> HH: array<f32>;         // [H | DH], (B, nC+1, D, N) each
@group(0) @binding(4) var<storage, read_write> dU: array<f32>;   // (B, L, D)
@group(0) @binding(5) var<storage, read_write> dDl: array<f32>;  // (B, L, D)
@group(0) @binding(6) var<storage, read_write> dZ: array<f32>;   // (B, L, D), only with z
@group(0) @binding(7) var<storage, read_write> PART: array<f32>;
@group(0) @binding(8) var<uniform> p: Q;
var<workgroup> sN: array<f32, ${3 * DK * N}>; // per thread: dΔ, du and y contributions
var<workgroup> sD: array<f32, ${2 * DK * N}>; // per thread: dB and dC contributions
@compute @workgroup_size(${DK * N}) fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let n = li % NS;
  let dk = li / NS;
  let g = wid.x;
  let c = wid.y;
  let b = wid.z;
  let BLD = p.B * p.L * p.D;
  let BLN = p.B * p.L * NS;
  let hsz = p.B * (p.nC + 1u) * p.D * NS;
  let offA = 2u * BLN * p.nDG;
  let offDD = offA + p.B * p.nC * p.D * NS;
  let t0 = c * p.T;
  let t1 = min(p.L, t0 + p.T);
  for (var s = 0u; s < SUB; s++) {
    let d = (g * SUB + s) * DK + dk;
    let ok = d < p.D;
    let dd = min(d, p.D - 1u); // reads stay in range; writes are guarded by ok
    let live = select(0.0, 1.0, ok);
    let aN = SP[dd * NS + n];
    let a = aN * LOG2E;
    let dBias = SP[p.D * NS + p.D + dd];
    // Forward over the chunk from its boundary state, keeping the T states.
    let h0 = HH[((b * (p.nC + 1u) + c) * p.D + dd) * NS + n];
    var hs: array<f32, ${T}>;
    var h = h0;
    for (var t = t0; t < t1; t++) {
      let i = (b * p.L + t) * p.D + dd;
      var dt = IN[BLD + i] + dBias;
      if (p.softplus == 1u) { dt = softplus(dt); }
      h = fma(exp2(dt * a), h, dt * BC[(b * p.L + t) * NS + n] * IN[i]);
      hs[t - t0] = h;
    }
    // Backward from the gradient of the state leaving the chunk.
    var dh = HH[hsz + ((b * (p.nC + 1u) + c + 1u) * p.D + dd) * NS + n];
    var dA = 0.0;
    var accD = 0.0; // this thread's dD sum over the chunk (its du task's channel)
    var accB = 0.0; // this thread's dbias sum (its dΔ task's channel)
    for (var k = t1 - t0; k > 0u; k--) {
      let j = k - 1u;
      let t = t0 + j;
      let i = (b * p.L + t) * p.D + dd;
      let u = IN[i];
      let pre = IN[BLD + i] + dBias;
      var dt = pre;
      if (p.softplus == 1u) { dt = softplus(pre); }
      let gout = IN[2u * BLD + i];
      var dy = gout;
      if (p.hasZ == 1u) { let z = IN[3u * BLD + i]; dy = gout * z * sigmoid(z); }
      let hT = hs[j];
      var hP = h0;
      if (j > 0u) { hP = hs[j - 1u]; }
      let bc = (b * p.L + t) * NS + n;
      let Bn = BC[bc];
      let Cn = BC[BLN + bc];
      let dhn = fma(dy, Cn, dh);
      let decay = exp2(dt * a);
      dA = fma(dhn * decay * dt, hP, dA);
      sN[li] = live * dhn * fma(decay * aN, hP, Bn * u);
      sN[WGS + li] = live * dhn * dt * Bn;
      sN[2u * WGS + li] = live * Cn * hT;
      sD[li] = live * dhn * dt * u;
      sD[WGS + li] = live * dy * hT;
      dh = dhn * decay;
      workgroupBarrier();
      // The sums, spread over the threads (a task per sum; each thread keeps the same tasks at
      // every step, so that its accumulators belong to one channel).
      for (var task = li; task < TASKS; task += WGS) {
        if (task < 3u * DK) {
          let q = task / DK;         // 0: dΔ, 1: du, 2: y
          let r = task % DK;         // the channel's row in the block
          let dr = (g * SUB + s) * DK + r;
          if (dr < p.D) {
            var sum = 0.0;
            for (var m = 0u; m < NS; m++) { sum += sN[q * WGS + r * NS + m]; }
            let ir = (b * p.L + t) * p.D + dr;
            let ur = IN[ir];
            let gr = IN[2u * BLD + ir];
            var dyr = gr;
            var zr = 0.0;
            if (p.hasZ == 1u) { zr = IN[3u * BLD + ir]; dyr = gr * zr * sigmoid(zr); }
            if (q == 0u) {
              var dpre = sum;
              if (p.softplus == 1u) { dpre = sum * sigmoid(IN[BLD + ir] + SP[p.D * NS + p.D + dr]); }
              dDl[ir] = dpre;
              accB += dpre;
            } else if (q == 1u) {
              dU[ir] = fma(dyr, SP[p.D * NS + dr], sum);
              accD = fma(dyr, ur, accD);
            } else if (p.hasZ == 1u) {
              let sg = sigmoid(zr);
              dZ[ir] = gr * fma(SP[p.D * NS + dr], ur, sum) * (sg + zr * sg * (1.0 - sg));
            }
          }
        } else {
          let q = (task - 3u * DK) / NS; // 0: dB, 1: dC
          let m0 = (task - 3u * DK) % NS;
          var sum = 0.0;
          for (var r = 0u; r < DK; r++) { sum += sD[q * WGS + r * NS + m0]; }
          let o = q * BLN * p.nDG + ((b * p.L + t) * NS + m0) * p.nDG + g;
          if (s > 0u) { sum += PART[o]; }
          PART[o] = sum;
        }
      }
      workgroupBarrier(); // before the next step overwrites sN, sD
    }
    if (ok) { PART[offA + ((b * p.nC + c) * p.D + d) * NS + n] = dA; }
    for (var task = li; task < 2u * DK; task += WGS) {
      let dr = (g * SUB + s) * DK + task % DK;
      if (dr < p.D) {
        let o = offDD + (b * p.nC + c) * p.D + dr;
        if (task < DK) { PART[o + p.B * p.nC * p.D] = accB; } else { PART[o] = accD; }
      }
    }
  }
}`,
  }));
}

const REDUCE_PARAMS = /* wgsl */ `
struct R { B: u32, L: u32, D: u32, N: u32, nC: u32, nDG: u32 }
`;

/** Step 4a: OUTA = [dA (D, N) | dD (D) | dbias (D)], summed over (b, c); thread per output. */
export const scanReduceParamsKernel: Kernel = {
  key: 'scan_bwd_reduce_params',
  code: () => /* wgsl */ `
${REDUCE_PARAMS}
@group(0) @binding(0) var<storage, read> PART: array<f32>;
@group(0) @binding(1) var<storage, read_write> OUTA: array<f32>;
@group(0) @binding(2) var<uniform> p: R;
${FLAT_INDEX}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let j = flatIndex(gid, nwg);
  let DN = p.D * p.N;
  if (j >= DN + 2u * p.D) { return; }
  let rows = p.B * p.nC;
  let offA = 2u * p.B * p.L * p.N * p.nDG;
  var base = offA + j;
  var stride = DN;
  if (j >= DN) {
    let k = j - DN;
    base = offA + rows * DN + (k / p.D) * rows * p.D + k % p.D;
    stride = p.D;
  }
  var sum = 0.0;
  for (var r = 0u; r < rows; r++) { sum += PART[base + r * stride]; }
  OUTA[j] = sum;
}`,
};

/** Step 4b: dB, dC (B, L, N) summed over the channel groups; thread per output. */
export const scanReduceBCKernel: Kernel = {
  key: 'scan_bwd_reduce_bc',
  code: () => /* wgsl */ `
${REDUCE_PARAMS}
@group(0) @binding(0) var<storage, read> PART: array<f32>;
@group(0) @binding(1) var<storage, read_write> dB: array<f32>;
@group(0) @binding(2) var<storage, read_write> dC: array<f32>;
@group(0) @binding(3) var<uniform> p: R;
${FLAT_INDEX}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let j = flatIndex(gid, nwg);
  let BLN = p.B * p.L * p.N;
  if (j >= 2u * BLN) { return; }
  var sum = 0.0;
  for (var g = 0u; g < p.nDG; g++) { sum += PART[j * p.nDG + g]; }
  if (j < BLN) { dB[j] = sum; } else { dC[j - BLN] = sum; }
}`,
};
