/**
 * The selective scan's backward on the WebAssembly kernels (assembly/scan-backward.ts): sizes the
 * tiles (blocks of channels, fixed by the shape so that every thread count gives the same bits),
 * the per-tile workspace and partial sums, posts the job, and adds the tiles' partial dB and dC
 * in order of tile.
 */
import type { CpuStorage } from '../storage.js';
import {
  K_SCAN_BACKWARD, SB_A, SB_B, SB_BATCH, SB_C, SB_CHUNK, SB_D, SB_DA, SB_DB_PARTS, SB_DBIAS, SB_DC_PARTS, SB_DD, SB_DDELTA, SB_DELTA,
  SB_DELTA_BIAS, SB_DH0, SB_DIM, SB_DU, SB_DZ, SB_G_LAST, SB_G_OUT, SB_H0, SB_L, SB_N, SB_SOFTPLUS, SB_TILE_CHANNELS, SB_U, SB_WORK,
  SB_WORK_BYTES, SB_Z,
} from './layout.js';
import type { WasmRuntime } from './runtime.js';

/** Channels per tile: 8 SIMD groups of four. */
const TILE_CHANNELS = 32;
/** Time steps per recomputed chunk. */
const CHUNK = 64;

export interface ScanBackwardStorages {
  u: CpuStorage; delta: CpuStorage; A: CpuStorage; B: CpuStorage; C: CpuStorage;
  D: CpuStorage | null; z: CpuStorage | null; deltaBias: CpuStorage | null; initialState: CpuStorage | null;
  gOut: CpuStorage; gLast: CpuStorage | null;
  du: CpuStorage; ddelta: CpuStorage; dA: CpuStorage; dB: CpuStorage; dC: CpuStorage;
  dD: CpuStorage; dz: CpuStorage | null; dbias: CpuStorage; dh0: CpuStorage;
}

/** Whether the kernel takes these: every buffer in the heap, and whole SIMD groups of channels. */
export function scanBackwardFits(dim: number, storages: readonly (CpuStorage | null)[]): boolean {
  return dim % 4 === 0 && storages.every((s) => s === null || s.heap !== null);
}

export function scanBackwardOnPool(rt: WasmRuntime, s: ScanBackwardStorages, dims: { batch: number; L: number; D: number; N: number }, softplus: boolean): void {
  const { batch, L, D, N } = dims;
  const tiles = Math.ceil(D / TILE_CHANNELS);
  const chunks = Math.ceil(L / CHUNK);
  const workBytes = Math.ceil((16 * (4 * N + chunks * N + (CHUNK + 1) * N + CHUNK * N + CHUNK)) / 64) * 64;
  const partFloats = batch * L * N;
  const work = rt.heap.alloc(tiles * workBytes, false);
  const dBParts = rt.heap.alloc(tiles * partFloats * 4, false);
  const dCParts = rt.heap.alloc(tiles * partFloats * 4, false);
  try {
    if (work === null || dBParts === null || dCParts === null) throw new Error('internal: no room in the WebAssembly heap for the scan backward workspace');
    const p = (x: CpuStorage | null) => (x ? x.ptr : 0);
    const args: number[] = [];
    args[SB_U] = s.u.ptr;
    args[SB_DELTA] = s.delta.ptr;
    args[SB_A] = s.A.ptr;
    args[SB_B] = s.B.ptr;
    args[SB_C] = s.C.ptr;
    args[SB_D] = p(s.D);
    args[SB_Z] = p(s.z);
    args[SB_DELTA_BIAS] = p(s.deltaBias);
    args[SB_H0] = p(s.initialState);
    args[SB_G_OUT] = s.gOut.ptr;
    args[SB_G_LAST] = p(s.gLast);
    args[SB_DU] = s.du.ptr;
    args[SB_DDELTA] = s.ddelta.ptr;
    args[SB_DA] = s.dA.ptr;
    args[SB_DB_PARTS] = dBParts;
    args[SB_DC_PARTS] = dCParts;
    args[SB_DD] = s.dD.ptr;
    args[SB_DZ] = p(s.dz);
    args[SB_DBIAS] = s.dbias.ptr;
    args[SB_DH0] = s.dh0.ptr;
    args[SB_BATCH] = batch;
    args[SB_L] = L;
    args[SB_DIM] = D;
    args[SB_N] = N;
    args[SB_SOFTPLUS] = softplus ? 1 : 0;
    args[SB_TILE_CHANNELS] = TILE_CHANNELS;
    args[SB_WORK] = work;
    args[SB_WORK_BYTES] = workBytes;
    args[SB_CHUNK] = CHUNK;
    rt.pool.run(K_SCAN_BACKWARD, args, tiles);
    // Σ over tiles, in order of tile.
    const buf = rt.heap.buffer;
    for (const [parts, out] of [[dBParts, s.dB], [dCParts, s.dC]] as const) {
      const all = new Float32Array(buf, parts, tiles * partFloats);
      const o = out.data as Float32Array;
      o.set(all.subarray(0, partFloats));
      for (let t = 1; t < tiles; t++) {
        const at = t * partFloats;
        for (let k = 0; k < partFloats; k++) o[k] = o[k]! + all[at + k]!;
      }
    }
  } finally {
    if (work !== null) rt.heap.free(work, tiles * workBytes);
    if (dBParts !== null) rt.heap.free(dBParts, tiles * partFloats * 4);
    if (dCParts !== null) rt.heap.free(dCParts, tiles * partFloats * 4);
  }
}
