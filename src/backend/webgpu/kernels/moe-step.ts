/**
 * A sparse MoE feed-forward for a few tokens (a decode step), with the routing on the device: the
 * experts of each token are read from the top-k indices, so nothing goes back to the host.
 *
 * The experts' weights sit in stacked buffers (n, F, H) for gate and up and (n, H, F) for down
 * (WGSL cannot pick a binding by index). A slot s = t·k + j is token t's j-th choice.
 *
 * - rows kernel (expert-major): workgroup (row block, expert e) first lists the slots routed to e,
 *   then, TC slots at a time, computes its ROWS output rows for those slots: the
 *   weight rows are read once per TC slots (not once per slot), LANES threads per row stride over
 *   the row (coalesced reads), and their partial sums meet in workgroup memory. Gate/up mode writes
 *   silu(gate·x)·(up·x) (S, F); down mode writes down·a (S, H).
 * - combine kernel: out[t] = residual[t] + Σ_j p[t, j] · y[t·k + j], j in top-k order.
 */
import type { Kernel } from '../context.js';
import { cachedKernel } from '../context.js';
import { weightBinding, type WeightDType } from './weights.js';

/** Output rows per workgroup of the rows kernel, threads per row, and slots per pass. */
const ROWS = 8;
const LANES = 32;
const TC = 4;
const WG = ROWS * LANES;
/** The most slots (tokens × k) one launch takes (the slot list lives in workgroup memory); more go in several launches. */
export const MOE_MAX_SLOTS = 1024;

/** Workgroups of the rows kernel for `rows` output rows and n experts. */
export function moeRowsGrid(rows: number, n: number): [number, number] {
  return [Math.ceil(rows / ROWS), n];
}

export function moeRowsKernel(mode: 'gateUp' | 'down', dt: WeightDType): Kernel {
  const gateUp = mode === 'gateUp';
  return cachedKernel(`moe_rows_${mode}_${dt}`, () => ({
    key: `moe_rows_${mode}_${dt}`,
    code: () => /* wgsl */ `
// Slots [s0, s0 + S); k choices per token; R output rows per expert; K the length of a row.
struct P { S: u32, k: u32, R: u32, K: u32, s0: u32 }
const ROWS = ${ROWS}u;
const LANES = ${LANES}u;
const TC = ${TC}u;
const WG = ${WG}u;
@group(0) @binding(0) var<storage, read> X: array<f32>;   // (T, K) tokens (gate/up) or (S, K) slots (down)
@group(0) @binding(1) var<storage, read> Idx: array<i32>; // (S) the expert of each slot
${weightBinding('W1', 2, dt, '// (n, R, K) gate or down')}
${gateUp ? weightBinding('W2', 3, dt, '// (n, R, K) up') : ''}
@group(0) @binding(${gateUp ? 4 : 3}) var<storage, read_write> O: array<f32>; // (S, R)
@group(0) @binding(${gateUp ? 5 : 4}) var<uniform> p: P;
var<workgroup> slots: array<u32, ${MOE_MAX_SLOTS}>;
var<workgroup> found: atomic<u32>; // zero at the start, as all workgroup memory
var<workgroup> count: u32;
var<workgroup> red: array<f32, ${(gateUp ? 2 : 1) * TC * WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let t = lid.x;
  let e = wid.y;
  // The slots routed to e, listed by all threads (in no particular order: each slot's result is
  // computed on its own, so the order changes no number).
  for (var s = p.s0 + t; s < p.s0 + p.S; s += WG) {
    if (u32(Idx[s]) == e) { slots[atomicAdd(&found, 1u)] = s; }
  }
  workgroupBarrier();
  if (t == 0u) { count = atomicLoad(&found); }
  let cnt = workgroupUniformLoad(&count);
  let r = t / LANES;
  let lane = t % LANES;
  let row = wid.x * ROWS + r;
  let rowOk = row < p.R;
  let wBase = (e * p.R + min(row, p.R - 1u)) * p.K;
  for (var c0 = 0u; c0 < cnt; c0 += TC) {
    var a1: array<f32, TC>;
    ${gateUp ? 'var a2: array<f32, TC>;' : ''}
    var xBase: array<u32, TC>;
    for (var c = 0u; c < TC; c++) {
      // Zeroed explicitly: a declaration inside a loop is not re-zeroed by every compiler.
      a1[c] = 0.0;
      ${gateUp ? 'a2[c] = 0.0;' : ''}
      let s = slots[min(c0 + c, cnt - 1u)];
      xBase[c] = ${gateUp ? 's / p.k' : 's'} * p.K;
    }
    if (rowOk) {
      for (var h = lane; h < p.K; h += LANES) {
        let w1 = W1_at(wBase + h);
        ${gateUp ? 'let w2 = W2_at(wBase + h);' : ''}
        for (var c = 0u; c < TC; c++) {
          let x = X[xBase[c] + h];
          a1[c] = fma(w1, x, a1[c]);
          ${gateUp ? 'a2[c] = fma(w2, x, a2[c]);' : ''}
        }
      }
    }
    for (var c = 0u; c < TC; c++) {
      red[(c * ROWS + r) * LANES + lane] = a1[c];
      ${gateUp ? 'red[((TC + c) * ROWS + r) * LANES + lane] = a2[c];' : ''}
    }
    workgroupBarrier();
    if (t < TC * ROWS) {
      let c = t / ROWS;
      let rr = t % ROWS;
      let orow = wid.x * ROWS + rr;
      if (c0 + c < cnt && orow < p.R) {
        var s1 = 0.0;
        ${gateUp ? 'var s2 = 0.0;' : ''}
        for (var l = 0u; l < LANES; l++) {
          s1 += red[(c * ROWS + rr) * LANES + l];
          ${gateUp ? 's2 += red[((TC + c) * ROWS + rr) * LANES + l];' : ''}
        }
        ${gateUp ? 'let v = s1 / (1.0 + exp(-s1)) * s2;' : 'let v = s1;'}
        O[slots[c0 + c] * p.R + orow] = v;
      }
    }
    workgroupBarrier();
  }
}`,
  }));
}

/** Thread per output element (t, h): residual plus the weighted expert outputs of token t. */
export const moeCombineKernel: Kernel = {
  key: 'moe_combine',
  code: () => /* wgsl */ `
struct P { n: u32, k: u32, H: u32 }
@group(0) @binding(0) var<storage, read> Y: array<f32>;        // (T·k, H) expert outputs per slot
@group(0) @binding(1) var<storage, read> Pw: array<f32>;       // (T·k) routing weights
@group(0) @binding(2) var<storage, read> Res: array<f32>;      // (T, H)
@group(0) @binding(3) var<storage, read_write> O: array<f32>;  // (T, H)
@group(0) @binding(4) var<uniform> p: P;
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) { return; }
  let tok = i / p.H;
  let h = i % p.H;
  var acc = 0.0;
  for (var j = 0u; j < p.k; j++) {
    let s = tok * p.k + j;
    acc += Pw[s] * Y[s * p.H + h];
  }
  O[i] = Res[i] + acc;
}`,
};
