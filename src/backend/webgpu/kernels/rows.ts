/**
 * Kernels over rows of the last axis, one workgroup per row (2-D grid for many rows): sum, max,
 * softmax, argmax, RMSNorm via a workgroup tree reduction; top-k by a per-row selection.
 */
import type { Kernel } from '../context.js';

export const ROW_WG = 256;

const HEAD = /* wgsl */ `
struct P { rows: u32, n: u32, gx: u32, eps: f32 }
var<workgroup> red: array<f32, ${ROW_WG}>;
fn rowIndex(wid: vec3<u32>) -> u32 { return wid.x + wid.y * p.gx; }
`;

/** Tree-reduces red[] with `op`; afterwards red[0] holds the result. All threads must call it. */
function reduceFn(name: string, op: string): string {
  return /* wgsl */ `
fn ${name}(t: u32) {
  workgroupBarrier();
  for (var h = ${ROW_WG / 2}u; h > 0u; h >>= 1u) {
    if (t < h) { red[t] = ${op}; }
    workgroupBarrier();
  }
}`;
}

/**
 * Workgroup reduction of (value, index) candidates to the largest value, lower index on ties;
 * red[0], idx[0] hold the winner afterwards. Needs `red` and `idx` declared; all threads call it.
 */
const ARGMAX_REDUCE = /* wgsl */ `
fn argmaxReduce(t: u32, v0: f32, i0: u32) {
  red[t] = v0;
  idx[t] = i0;
  workgroupBarrier();
  for (var h = ${ROW_WG / 2}u; h > 0u; h >>= 1u) {
    if (t < h) {
      let v = red[t + h];
      let j = idx[t + h];
      if (v > red[t] || (v == red[t] && j < idx[t])) { red[t] = v; idx[t] = j; }
    }
    workgroupBarrier();
  }
}
`;

const ENTRY = `@compute @workgroup_size(${ROW_WG}) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>)`;

export const rowSumKernel: Kernel = {
  key: 'row_sum',
  code: () => /* wgsl */ `
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@group(0) @binding(2) var<uniform> p: P;
${HEAD}${reduceFn('reduceSum', 'red[t] + red[t + h]')}
${ENTRY} {
  let r = rowIndex(wid);
  let t = lid.x;
  var s = 0.0;
  if (r < p.rows) { for (var i = t; i < p.n; i += ${ROW_WG}u) { s += X[r * p.n + i]; } }
  red[t] = s;
  reduceSum(t);
  if (t == 0u && r < p.rows) { Y[r] = red[0]; }
}`,
};

export const rowMaxKernel: Kernel = {
  key: 'row_max',
  code: () => /* wgsl */ `
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@group(0) @binding(2) var<uniform> p: P;
${HEAD}${reduceFn('reduceMax', 'max(red[t], red[t + h])')}
${ENTRY} {
  let r = rowIndex(wid);
  let t = lid.x;
  var m = -3.4e38;
  if (r < p.rows) { for (var i = t; i < p.n; i += ${ROW_WG}u) { m = max(m, X[r * p.n + i]); } }
  red[t] = m;
  reduceMax(t);
  if (t == 0u && r < p.rows) { Y[r] = red[0]; }
}`,
};

export const softmaxKernel: Kernel = {
  key: 'row_softmax',
  code: () => /* wgsl */ `
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@group(0) @binding(2) var<uniform> p: P;
${HEAD}${reduceFn('reduceMax', 'max(red[t], red[t + h])')}${reduceFn('reduceSum', 'red[t] + red[t + h]')}
${ENTRY} {
  let r = rowIndex(wid);
  let t = lid.x;
  let live = r < p.rows;
  var m = -3.4e38;
  if (live) { for (var i = t; i < p.n; i += ${ROW_WG}u) { m = max(m, X[r * p.n + i]); } }
  red[t] = m;
  reduceMax(t);
  let mx = red[0];
  workgroupBarrier();
  var s = 0.0;
  if (live) { for (var i = t; i < p.n; i += ${ROW_WG}u) { s += exp(X[r * p.n + i] - mx); } }
  red[t] = s;
  reduceSum(t);
  let total = red[0];
  if (live) { for (var i = t; i < p.n; i += ${ROW_WG}u) { Y[r * p.n + i] = exp(X[r * p.n + i] - mx) / total; } }
}`,
};

/** y = x · rsqrt(mean(x²) + eps) · w. */
export const rmsNormKernel: Kernel = {
  key: 'row_rmsnorm',
  code: () => /* wgsl */ `
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> Wt: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<uniform> p: P;
${HEAD}${reduceFn('reduceSum', 'red[t] + red[t + h]')}
${ENTRY} {
  let r = rowIndex(wid);
  let t = lid.x;
  let live = r < p.rows;
  var s = 0.0;
  if (live) { for (var i = t; i < p.n; i += ${ROW_WG}u) { let v = X[r * p.n + i]; s += v * v; } }
  red[t] = s;
  reduceSum(t);
  let inv = inverseSqrt(red[0] / f32(p.n) + p.eps);
  if (live) { for (var i = t; i < p.n; i += ${ROW_WG}u) { Y[r * p.n + i] = X[r * p.n + i] * inv * Wt[i]; } }
}`,
};

/** First index of the maximum (NaN never wins): values and indices reduced together. */
export const argmaxKernel: Kernel = {
  key: 'row_argmax',
  code: () => /* wgsl */ `
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<i32>;
@group(0) @binding(2) var<uniform> p: P;
${HEAD}
var<workgroup> idx: array<u32, ${ROW_WG}>;
${ARGMAX_REDUCE}
${ENTRY} {
  let r = rowIndex(wid);
  let t = lid.x;
  var bv = -3.4e38;
  var bi = 0xffffffffu;
  if (r < p.rows) {
    for (var i = t; i < p.n; i += ${ROW_WG}u) {
      let v = X[r * p.n + i];
      if (v > bv || (bi == 0xffffffffu && v == bv)) { bv = v; bi = i; }
    }
  }
  argmaxReduce(t, bv, bi);
  if (t == 0u && r < p.rows) { Y[r] = i32(select(idx[0], 0u, idx[0] == 0xffffffffu)); }
}`,
};

/**
 * Top-k by selection, one thread per row: k passes, each taking the largest value not yet taken
 * (ties: lower index first). O(k·n) per row; meant for sampling, not for hot loops.
 */
export const topKKernel: Kernel = {
  key: 'row_topk',
  code: () => /* wgsl */ `
struct Q { rows: u32, n: u32, k: u32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> V: array<f32>;
@group(0) @binding(2) var<storage, read_write> I: array<i32>;
@group(0) @binding(3) var<uniform> q: Q;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = gid.x;
  if (r >= q.rows) { return; }
  var lastV = 3.4e38;
  var lastI = -1;
  for (var j = 0u; j < q.k; j++) {
    var bv = -3.4e38;
    var bi = -1;
    for (var i = 0u; i < q.n; i++) {
      let v = X[r * q.n + i];
      let ii = i32(i);
      // strictly after (lastV, lastI) in the order (value desc, index asc)
      let after = v < lastV || (v == lastV && ii > lastI);
      if (after && (bi < 0 || v > bv)) { bv = v; bi = ii; }
    }
    V[r * q.k + j] = bv;
    I[r * q.k + j] = bi;
    lastV = bv;
    lastI = bi;
  }
}`,
};

/** Elements per workgroup in the first pass of the two-pass argmax used for long rows. */
export const ARGMAX_CHUNK = 2048;

/**
 * Two-pass argmax for long rows (a vocabulary of 50k): pass 1 has G = ceil(n / 2048) workgroups
 * per row, each writing its best (value, index); pass 2 reduces the G candidates of each row.
 * Ties resolve to the lower index in both passes, so the result is the first maximum.
 */
export const argmaxPartialKernel: Kernel = {
  key: 'row_argmax_partial',
  code: () => /* wgsl */ `
struct Q { rows: u32, n: u32, G: u32, gx: u32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> PV: array<f32>; // (rows, G)
@group(0) @binding(2) var<storage, read_write> PI: array<u32>; // (rows, G)
@group(0) @binding(3) var<uniform> q: Q;
var<workgroup> red: array<f32, ${ROW_WG}>;
var<workgroup> idx: array<u32, ${ROW_WG}>;
${ARGMAX_REDUCE}
${ENTRY} {
  let w = wid.x + wid.y * q.gx;
  let r = w / q.G;
  let g = w % q.G;
  let t = lid.x;
  var bv = -3.4e38;
  var bi = 0xffffffffu;
  if (r < q.rows) {
    let end = min(q.n, (g + 1u) * ${ARGMAX_CHUNK}u);
    for (var i = g * ${ARGMAX_CHUNK}u + t; i < end; i += ${ROW_WG}u) {
      let v = X[r * q.n + i];
      if (v > bv || (bi == 0xffffffffu && v == bv)) { bv = v; bi = i; }
    }
  }
  argmaxReduce(t, bv, bi);
  if (t == 0u && r < q.rows) { PV[r * q.G + g] = red[0]; PI[r * q.G + g] = idx[0]; }
}`,
};

export const argmaxFinalKernel: Kernel = {
  key: 'row_argmax_final',
  code: () => /* wgsl */ `
struct Q { rows: u32, G: u32 }
@group(0) @binding(0) var<storage, read> PV: array<f32>;
@group(0) @binding(1) var<storage, read> PI: array<u32>;
@group(0) @binding(2) var<storage, read_write> Y: array<i32>;
@group(0) @binding(3) var<uniform> q: Q;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = gid.x;
  if (r >= q.rows) { return; }
  var bv = PV[r * q.G];
  var bi = PI[r * q.G];
  for (var g = 1u; g < q.G; g++) {
    let v = PV[r * q.G + g];
    let j = PI[r * q.G + g];
    if (v > bv || (v == bv && j < bi) || bi == 0xffffffffu) { bv = v; bi = j; }
  }
  Y[r] = i32(select(bi, 0u, bi == 0xffffffffu));
}`,
};

/**
 * Cross-entropy per row: logsumexp(x) − x[label] (0 for the ignore index), and its gradient
 * g · (softmax(x) − onehot(label)); one workgroup per row.
 */
const CE_HEAD = /* wgsl */ `
struct Q { rows: u32, n: u32, gx: u32, ignore: i32 }
var<workgroup> red: array<f32, ${ROW_WG}>;
${reduceFn('reduceMax', 'max(red[t], red[t + h])')}${reduceFn('reduceSum', 'red[t] + red[t + h]')}
/** The row's max and Σ exp(x − max), for logsumexp and softmax. All threads must call it. */
fn maxAndSumExp(r: u32, t: u32, live: bool) -> vec2<f32> {
  var m = -3.4e38;
  if (live) { for (var i = t; i < q.n; i += ${ROW_WG}u) { m = max(m, X[r * q.n + i]); } }
  red[t] = m;
  reduceMax(t);
  let mx = red[0];
  workgroupBarrier();
  var s = 0.0;
  if (live) { for (var i = t; i < q.n; i += ${ROW_WG}u) { s += exp(X[r * q.n + i] - mx); } }
  red[t] = s;
  reduceSum(t);
  return vec2<f32>(mx, red[0]);
}
`;

export const crossEntropyKernel: Kernel = {
  key: 'row_cross_entropy',
  code: () => /* wgsl */ `
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<uniform> q: Q;
${CE_HEAD}
${ENTRY} {
  let r = wid.x + wid.y * q.gx;
  let t = lid.x;
  let live = r < q.rows;
  let ms = maxAndSumExp(r, t, live);
  if (t == 0u && live) {
    let lab = labels[r];
    // A label outside the vocabulary gives NaN (as on the CPU), never a read past the row.
    if (lab == q.ignore) { Y[r] = 0.0; } else if (lab < 0 || u32(lab) >= q.n) { Y[r] = bitcast<f32>(0x7fc00000u | (u32(lab) & 0u)); } else { Y[r] = ms.x + log(ms.y) - X[r * q.n + u32(lab)]; }
  }
}`,
};

export const crossEntropyBackwardKernel: Kernel = {
  key: 'row_cross_entropy_backward',
  code: () => /* wgsl */ `
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
@group(0) @binding(3) var<storage, read_write> DX: array<f32>;
@group(0) @binding(4) var<uniform> q: Q;
${CE_HEAD}
${ENTRY} {
  let r = wid.x + wid.y * q.gx;
  let t = lid.x;
  let live = r < q.rows;
  let ms = maxAndSumExp(r, t, live);
  let mx = ms.x;
  let total = ms.y;
  if (live) {
    let lab = labels[r];
    let g = select(G[r], 0.0, lab == q.ignore);
    let bad = lab != q.ignore && (lab < 0 || u32(lab) >= q.n); // NaN, as the forward
    for (var i = t; i < q.n; i += ${ROW_WG}u) {
      var d = g * exp(X[r * q.n + i] - mx) / total;
      if (i32(i) == lab) { d -= g; }
      if (bad) { d = bitcast<f32>(0x7fc00000u | (u32(lab) & 0u)); }
      DX[r * q.n + i] = d;
    }
  }
}`,
};
