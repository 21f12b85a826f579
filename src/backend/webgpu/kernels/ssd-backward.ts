/**
 * The backward of Mamba-2's fused chunked SSD (kernels/ssd.ts is the forward; ops/ssd.ts states the
 * map). Per batch b, head h (group g) and chunk c of tokens t0 ≤ t < t1, with a = dt·A_h,
 * cum_t = a_{t0} + … + a_t, S_c the state entering chunk c (S_nC the last state) and
 * y_t = Σ_{s≤t} (C_t·B_s)·exp(cum_t − cum_s)·dt_s·x_s + exp(cum_t)·S_c·C_t + D·x_t:
 *
 *   dS_c (the state entering c)  = exp(cum_end)·dS_{c+1} + Σ_t exp(cum_t)·dy_t ⊗ C_t, dS_nC = dlast
 *   acc_s  = Σ_{t≥s} (C_t·B_s)·exp(cum_t − cum_s)·dy_t + exp(cum_end − cum_s)·dS_{c+1}·B_s   (P)
 *   dx_s   = dt_s·acc_s + D·dy_s,            ddt_s (direct) = x_s·acc_s
 *   dC_t   = Σ_h [Σ_{s≤t} (dy_t·x_s)·exp(cum_t − cum_s)·dt_s·B_s + exp(cum_t)·dy_tᵀ·S_c]
 *   dB_s   = Σ_h dt_s·[Σ_{t≥s} (dy_t·x_s)·exp(cum_t − cum_s)·C_t + exp(cum_end − cum_s)·x_sᵀ·dS_{c+1}]
 *   dcum_t = dy_t·(y_t − D·x_t) − dt_t·ddt_t(direct) + [t = end]·⟨dS_{c+1}, S_{c+1}⟩
 * The last line is the cumulative-sum trick: every term of y_t carries exp(cum_t) (so its
 * derivative is y_t itself, read from the forward's output), every term from source s carries
 * exp(−cum_s) (so its derivative is minus what it gave dt_s, times dt_s), and every term of the
 * state leaving a chunk carries exp(cum_end). Then da_t = Σ_{t'≥t} dcum_t' within the chunk,
 * ddt_t += A_h·da_t and dA_h = Σ dt_t·da_t.
 *
 * The launches (ssdChunkedBackward in webgpu/index.ts), after the forward kept cum and S:
 *   scores (the forward's, twice): C_t·B_s per group and dy_t·x_s per head, s ≤ t, (…, T, T);
 *   state_grad (the forward's chunk_state with dy, C and exp(cum_t)) then reverse_carry: dS;
 *   dx_acc: acc; dc and db: dC, dB, each summing a group's heads;
 *   rows: dx = dt·acc + D·dy, ddt (direct), dcum and dy·x per (b, t, h);
 *   chunk (a workgroup per b, c, h): ⟨dS_{c+1}, S_{c+1}⟩, the reverse cumsum to ddt, and partial
 *   sums of dA and dD; params: dA, dD.
 *
 * Layouts (f32, contiguous): TC (2, Bt, L, H) = cum then dt; prm (2, H) = A then D (0 without D);
 * CBs (Bt, nC, G, T, T) and DYX (Bt, nC, H, T, T), [t − t0][s − t0]; S and dS (Bt, nC, H, P, N).
 */
import { FLAT_INDEX, type Kernel } from '../context.js';
import { SSD_PARAMS } from './ssd.js';

/** Threads of the chunk kernel's workgroup (its reduction over the P × N state). */
export const SSD_BWD_CHUNK_WG = 256;

const HEAD = /* wgsl */ `
${SSD_PARAMS}
${FLAT_INDEX}
`;

/**
 * A thread per (b, h, p, n) walks the chunks backwards: dS holds each chunk's own part on entry
 * and leaves with the gradient of the state leaving each chunk; dH0 gets the gradient of the
 * initial state. hasH0 in the uniforms says whether dLast is bound.
 */
export const ssdReverseCarryKernel: Kernel = {
  key: 'ssd_bwd_reverse_carry',
  code: () => /* wgsl */ `
${HEAD}
@group(0) @binding(0) var<storage, read> TC: array<f32>;
@group(0) @binding(1) var<storage, read_write> dS: array<f32>;
@group(0) @binding(2) var<storage, read> dLast: array<f32>;
@group(0) @binding(3) var<storage, read_write> dH0: array<f32>;
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
  if (p.hasH0 == 1u) { s = dLast[i]; }
  for (var c = p.nC; c > 0u; c--) {
    let k = (b * p.nC + c - 1u) * hpn + r;
    let own = dS[k];
    dS[k] = s;
    let tEnd = min((c - 1u) * p.T + p.T, p.L) - 1u;
    s = exp(TC[(b * p.L + tEnd) * p.H + h]) * s + own;
  }
  dH0[i] = s;
}
`,
};

/** A thread per (b, s, h, p): acc_s[p] (see the file's comment), into Acc (Bt, L, H, P). */
export const ssdDxAccKernel: Kernel = {
  key: 'ssd_bwd_dx_acc',
  code: () => /* wgsl */ `
${HEAD}
@group(0) @binding(0) var<storage, read> Dy: array<f32>;
@group(0) @binding(1) var<storage, read> TC: array<f32>;
@group(0) @binding(2) var<storage, read> CBs: array<f32>;
@group(0) @binding(3) var<storage, read> Bm: array<f32>;
@group(0) @binding(4) var<storage, read> dS: array<f32>;
@group(0) @binding(5) var<storage, read_write> Acc: array<f32>;
@group(0) @binding(6) var<uniform> p: Dims;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= p.Bt * p.L * p.H * p.P) { return; }
  let pp = i % p.P;
  let h = (i / p.P) % p.H;
  let s = (i / (p.P * p.H)) % p.L;
  let b = i / (p.P * p.H * p.L);
  let g = h / (p.H / p.G);
  let c = s / p.T;
  let t0 = c * p.T;
  let t1 = min(t0 + p.T, p.L);
  let cumS = TC[(b * p.L + s) * p.H + h];
  let cbBase = ((b * p.nC + c) * p.G + g) * p.T * p.T + (s - t0);
  var acc = 0.0;
  for (var t = s; t < t1; t++) {
    let kt = (b * p.L + t) * p.H + h;
    acc += CBs[cbBase + (t - t0) * p.T] * exp(TC[kt] - cumS) * Dy[kt * p.P + pp];
  }
  let cumEnd = TC[(b * p.L + t1 - 1u) * p.H + h];
  let dsBase = (((b * p.nC + c) * p.H + h) * p.P + pp) * p.N;
  let bBase = ((b * p.L + s) * p.G + g) * p.N;
  var st = 0.0;
  for (var n = 0u; n < p.N; n++) { st += Bm[bBase + n] * dS[dsBase + n]; }
  Acc[i] = acc + exp(cumEnd - cumS) * st;
}
`,
};

/** A thread per (b, t, g, n): dC (Bt, L, G, N), the group's heads summed. */
export const ssdDcKernel: Kernel = {
  key: 'ssd_bwd_dc',
  code: () => /* wgsl */ `
${HEAD}
@group(0) @binding(0) var<storage, read> Dy: array<f32>;
@group(0) @binding(1) var<storage, read> TC: array<f32>;
@group(0) @binding(2) var<storage, read> DYX: array<f32>;
@group(0) @binding(3) var<storage, read> Bm: array<f32>;
@group(0) @binding(4) var<storage, read> S: array<f32>;
@group(0) @binding(5) var<storage, read_write> dC: array<f32>;
@group(0) @binding(6) var<uniform> p: Dims;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= p.Bt * p.L * p.G * p.N) { return; }
  let n = i % p.N;
  let g = (i / p.N) % p.G;
  let t = (i / (p.N * p.G)) % p.L;
  let b = i / (p.N * p.G * p.L);
  let R = p.H / p.G;
  let c = t / p.T;
  let t0 = c * p.T;
  let blh = p.Bt * p.L * p.H;
  var acc = 0.0;
  for (var r = 0u; r < R; r++) {
    let h = g * R + r;
    let kt = (b * p.L + t) * p.H + h;
    let cumT = TC[kt];
    let gBase = (((b * p.nC + c) * p.H + h) * p.T + (t - t0)) * p.T - t0;
    var a = 0.0;
    for (var s = t0; s <= t; s++) {
      let ks = (b * p.L + s) * p.H + h;
      a += DYX[gBase + s] * exp(cumT - TC[ks]) * TC[blh + ks] * Bm[((b * p.L + s) * p.G + g) * p.N + n];
    }
    let sBase = ((b * p.nC + c) * p.H + h) * p.P * p.N + n;
    var st = 0.0;
    for (var q = 0u; q < p.P; q++) { st += Dy[kt * p.P + q] * S[sBase + q * p.N]; }
    acc += a + exp(cumT) * st;
  }
  dC[i] = acc;
}
`,
};

/** A thread per (b, s, g, n): dB (Bt, L, G, N), the group's heads summed. */
export const ssdDbKernel: Kernel = {
  key: 'ssd_bwd_db',
  code: () => /* wgsl */ `
${HEAD}
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> TC: array<f32>;
@group(0) @binding(2) var<storage, read> DYX: array<f32>;
@group(0) @binding(3) var<storage, read> Cm: array<f32>;
@group(0) @binding(4) var<storage, read> dS: array<f32>;
@group(0) @binding(5) var<storage, read_write> dB: array<f32>;
@group(0) @binding(6) var<uniform> p: Dims;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= p.Bt * p.L * p.G * p.N) { return; }
  let n = i % p.N;
  let g = (i / p.N) % p.G;
  let s = (i / (p.N * p.G)) % p.L;
  let b = i / (p.N * p.G * p.L);
  let R = p.H / p.G;
  let c = s / p.T;
  let t0 = c * p.T;
  let t1 = min(t0 + p.T, p.L);
  let blh = p.Bt * p.L * p.H;
  var acc = 0.0;
  for (var r = 0u; r < R; r++) {
    let h = g * R + r;
    let ks = (b * p.L + s) * p.H + h;
    let cumS = TC[ks];
    let gBase = ((b * p.nC + c) * p.H + h) * p.T * p.T + (s - t0);
    var a = 0.0;
    for (var t = s; t < t1; t++) {
      let kt = (b * p.L + t) * p.H + h;
      a += DYX[gBase + (t - t0) * p.T] * exp(TC[kt] - cumS) * Cm[((b * p.L + t) * p.G + g) * p.N + n];
    }
    let cumEnd = TC[(b * p.L + t1 - 1u) * p.H + h];
    let sBase = ((b * p.nC + c) * p.H + h) * p.P * p.N + n;
    var st = 0.0;
    for (var q = 0u; q < p.P; q++) { st += X[ks * p.P + q] * dS[sBase + q * p.N]; }
    acc += TC[blh + ks] * (a + exp(cumEnd - cumS) * st);
  }
  dB[i] = acc;
}
`,
};

/**
 * A thread per (b, t, h): dx = dt·acc + D·dy written over acc; ddt's direct part x·acc; Aux's
 * first half dcum without the chunk-end term, its second half dy·x (for dD).
 */
export const ssdRowsKernel: Kernel = {
  key: 'ssd_bwd_rows',
  code: () => /* wgsl */ `
${HEAD}
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> Dy: array<f32>;
@group(0) @binding(2) var<storage, read> Out: array<f32>;
@group(0) @binding(3) var<storage, read> TC: array<f32>;
@group(0) @binding(4) var<storage, read> Prm: array<f32>;
@group(0) @binding(5) var<storage, read_write> AccDx: array<f32>;
@group(0) @binding(6) var<storage, read_write> Ddt: array<f32>;
@group(0) @binding(7) var<storage, read_write> Aux: array<f32>;
@group(0) @binding(8) var<uniform> p: Dims;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = flatIndex(gid, nwg);
  let blh = p.Bt * p.L * p.H;
  if (k >= blh) { return; }
  let h = k % p.H;
  let dtv = TC[blh + k];
  let d = select(0.0, Prm[p.H + h], p.hasD == 1u); // D's half of Prm is unwritten without D
  var ddt = 0.0;
  var dyy = 0.0;
  var dyx = 0.0;
  for (var q = 0u; q < p.P; q++) {
    let j = k * p.P + q;
    let a = AccDx[j];
    let xv = X[j];
    let dyv = Dy[j];
    ddt += xv * a;
    dyx += dyv * xv;
    dyy += dyv * (Out[j] - d * xv);
    AccDx[j] = dtv * a + d * dyv;
  }
  Ddt[k] = ddt;
  Aux[k] = dyy - dtv * ddt;
  Aux[blh + k] = dyx;
}
`,
};

/**
 * A workgroup per (b, c, h) (grid (H, Bt·nC)): ⟨dS_{c+1}, S_{c+1}⟩ reduced over the state, then one
 * thread walks the chunk backwards: da_t = Σ_{t'≥t} dcum_t', ddt_t += A_h·da_t; Part (Bt, nC, H, 2)
 * gets the chunk's Σ dt·da (for dA) and Σ dy·x (for dD).
 */
export const ssdChunkGradKernel: Kernel = {
  key: 'ssd_bwd_chunk',
  code: () => /* wgsl */ `
${SSD_PARAMS}
@group(0) @binding(0) var<storage, read> TC: array<f32>;
@group(0) @binding(1) var<storage, read> Aux: array<f32>;
@group(0) @binding(2) var<storage, read> Prm: array<f32>;
@group(0) @binding(3) var<storage, read> S: array<f32>;
@group(0) @binding(4) var<storage, read> Last: array<f32>;
@group(0) @binding(5) var<storage, read> dS: array<f32>;
@group(0) @binding(6) var<storage, read_write> Ddt: array<f32>;
@group(0) @binding(7) var<storage, read_write> Part: array<f32>;
@group(0) @binding(8) var<uniform> p: Dims;
var<workgroup> red: array<f32, ${SSD_BWD_CHUNK_WG}>;
@compute @workgroup_size(${SSD_BWD_CHUNK_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  let h = wid.x;
  let b = wid.y / p.nC;
  let c = wid.y % p.nC;
  let pn = p.P * p.N;
  let dsBase = ((b * p.nC + c) * p.H + h) * pn;
  var v = 0.0;
  if (c + 1u < p.nC) {
    let sBase = ((b * p.nC + c + 1u) * p.H + h) * pn;
    for (var j = lid; j < pn; j += ${SSD_BWD_CHUNK_WG}u) { v += dS[dsBase + j] * S[sBase + j]; }
  } else {
    let sBase = (b * p.H + h) * pn;
    for (var j = lid; j < pn; j += ${SSD_BWD_CHUNK_WG}u) { v += dS[dsBase + j] * Last[sBase + j]; }
  }
  red[lid] = v;
  workgroupBarrier();
  for (var w = ${SSD_BWD_CHUNK_WG / 2}u; w > 0u; w = w / 2u) {
    if (lid < w) { red[lid] += red[lid + w]; }
    workgroupBarrier();
  }
  if (lid != 0u) { return; }
  let blh = p.Bt * p.L * p.H;
  let a = Prm[h];
  let t0 = c * p.T;
  let t1 = min(t0 + p.T, p.L);
  var run = red[0];
  var dA = 0.0;
  var dD = 0.0;
  for (var t = t1; t > t0; t--) {
    let k = (b * p.L + t - 1u) * p.H + h;
    run += Aux[k];
    Ddt[k] += a * run;
    dA += TC[blh + k] * run;
    dD += Aux[blh + k];
  }
  let o = ((b * p.nC + c) * p.H + h) * 2u;
  Part[o] = dA;
  Part[o + 1u] = dD;
}
`,
};

/** A thread per head: dA and dD (2, H) from the chunks' partial sums. */
export const ssdParamGradKernel: Kernel = {
  key: 'ssd_bwd_params',
  code: () => /* wgsl */ `
${HEAD}
@group(0) @binding(0) var<storage, read> Part: array<f32>;
@group(0) @binding(1) var<storage, read_write> Out: array<f32>;
@group(0) @binding(2) var<uniform> p: Dims;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let h = flatIndex(gid, nwg);
  if (h >= p.H) { return; }
  var dA = 0.0;
  var dD = 0.0;
  for (var k = 0u; k < p.Bt * p.nC; k++) {
    dA += Part[(k * p.H + h) * 2u];
    dD += Part[(k * p.H + h) * 2u + 1u];
  }
  Out[h] = dA;
  Out[p.H + h] = dD;
}
`,
};
