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

/**
 * The deterministic embedding backward, in two passes with a fixed summation order (a training
 * step replayed must give the bits of the ordinary one, and atomics do not). Pass 1: workgroup
 * (h block, row v, slice s), 64 threads over h, walks the slice's positions in order and sums the
 * gradients of those holding id v into partial[s, v, h]. Pass 2 sums the slices in order. It
 * reads every id once per (row, h block), so it is chosen only where V·⌈H/64⌉·positions is
 * small (see WebGpuBackend.embeddingBackward); the atomic kernel above takes the rest.
 */
export const EMB_BWD_H = 64;

export const embeddingBackwardSlicesKernel: Kernel = {
  key: 'embedding_backward_slices',
  code: () => /* wgsl */ `
struct P { positions: u32, H: u32, V: u32, perSlice: u32 }
@group(0) @binding(0) var<storage, read> ids: array<i32>;
@group(0) @binding(1) var<storage, read> G: array<f32>;            // (positions, H)
@group(0) @binding(2) var<storage, read_write> part: array<f32>;   // (slices, V, H)
@group(0) @binding(3) var<uniform> p: P;
@compute @workgroup_size(${EMB_BWD_H}) fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let h = wid.x * ${EMB_BWD_H}u + lid.x;
  let v = i32(wid.y);
  let s = wid.z;
  let start = s * p.perSlice;
  let end = min(start + p.perSlice, p.positions);
  var acc = 0.0;
  for (var i = start; i < end; i++) {
    if (ids[i] == v && h < p.H) { acc += G[i * p.H + h]; }
  }
  if (h < p.H) { part[(s * p.V + u32(v)) * p.H + h] = acc; }
}`,
};

/** dT[v, h] = Σ_s part[s, v, h], in slice order; n = V·H. */
export const embeddingBackwardSumKernel: Kernel = {
  key: 'embedding_backward_sum',
  code: () => /* wgsl */ `
struct P { n: u32, slices: u32 }
@group(0) @binding(0) var<storage, read> part: array<f32>;
@group(0) @binding(1) var<storage, read_write> DT: array<f32>;
@group(0) @binding(2) var<uniform> p: P;
${FLAT_INDEX}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= p.n) { return; }
  var acc = 0.0;
  for (var s = 0u; s < p.slices; s++) { acc += part[s * p.n + i]; }
  DT[i] = acc;
}`,
};
