/**
 * Backward of the embedding lookup: dTable[ids[i], h] += g[i, h], one thread per (i, h).
 * Positions sharing a token add into the same row, and WGSL has no float atomics, so each add is a
 * compare-exchange loop on the value's bits (atomic<u32>, bitcast to f32). The summation order over
 * repeated ids is therefore not fixed (results may differ in the last bits from run to run).
 */
import { FLAT_INDEX, WG, type Kernel } from '../context.js';

/** dT must be zero-filled first; n = positions·H. */
export const embeddingBackwardKernel: Kernel = {
  key: 'embedding_backward',
  code: () => /* wgsl */ `
struct P { n: u32, H: u32, V: u32 }
@group(0) @binding(0) var<storage, read> ids: array<i32>;
@group(0) @binding(1) var<storage, read> G: array<f32>;                 // (positions, H)
@group(0) @binding(2) var<storage, read_write> DT: array<atomic<u32>>;  // (V, H) as f32 bits
@group(0) @binding(3) var<uniform> p: P;
${FLAT_INDEX}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= p.n) { return; }
  let id = ids[i / p.H];
  // The host rejected out-of-range ids; this only keeps a bad one from writing outside the table.
  if (id < 0 || u32(id) >= p.V) { return; }
  let v = G[i];
  let at = u32(id) * p.H + i % p.H;
  var old = atomicLoad(&DT[at]);
  loop {
    let r = atomicCompareExchangeWeak(&DT[at], old, bitcast<u32>(bitcast<f32>(old) + v));
    if (r.exchanged) { break; }
    old = r.old_value;
  }
}`,
};
