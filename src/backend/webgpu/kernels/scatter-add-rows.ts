/**
 * Row scatter-add from its inverse index (MoE: expert outputs added back into their tokens' rows):
 * one thread per output value, summing its row's sources in the given order — no atomics, so the
 * result is the same on every run and equals the CPU kernel's summation order.
 */
import { FLAT_INDEX, WG, type Kernel } from '../context.js';

/** n = rows·H. */
export const scatterAddRowsKernel: Kernel = {
  key: 'scatter_add_rows',
  code: () => /* wgsl */ `
struct P { n: u32, H: u32 }
@group(0) @binding(0) var<storage, read> src: array<f32>;       // (positions, H)
@group(0) @binding(1) var<storage, read> order: array<i32>;     // (positions) sorted by target row
@group(0) @binding(2) var<storage, read> offsets: array<i32>;   // (rows + 1)
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;   // (rows, H)
@group(0) @binding(4) var<uniform> p: P;
${FLAT_INDEX}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= p.n) { return; }
  let r = i / p.H;
  let h = i % p.H;
  var acc = 0.0;
  for (var j = offsets[r]; j < offsets[r + 1u]; j++) {
    acc += src[u32(order[j]) * p.H + h];
  }
  Y[i] = acc;
}`,
};
