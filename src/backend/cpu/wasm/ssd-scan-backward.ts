/**
 * The backward of Mamba-2's state space layer over a sequence on the WebAssembly kernels
 * (assembly/ssd-scan-backward.ts): a tile per (sequence, head), run in waves of tiles that share
 * one workspace (each tile's recomputed states take (chunks + chunk + 2) states of P × N floats),
 * then each tile's partial dA, dD, dB and dC added in order of tile, so that every thread count
 * gives the same bits.
 */
import type { CpuStorage } from '../storage.js';
import {
  K_SSD_SCAN_BACKWARD, SQB_A, SQB_B, SQB_C, SQB_CHUNK, SQB_D, SQB_DA_PARTS, SQB_DB_PARTS, SQB_DC_PARTS, SQB_DD_PARTS, SQB_DDT, SQB_DH0, SQB_DT,
  SQB_DX, SQB_G_LAST, SQB_G_OUT, SQB_GROUPS, SQB_H0, SQB_HEAD_DIM, SQB_HEADS, SQB_L, SQB_N, SQB_TILE_BASE, SQB_WORK, SQB_WORK_BYTES, SQB_X,
} from './layout.js';
import type { WasmRuntime } from './runtime.js';
import type { SsdScanDims } from './sequence.js';

/** Tokens per recomputed chunk: the chunk's states (P·N floats each) are swept in reverse from the cache. */
const CHUNK = 16;
/** Tiles per wave: enough to keep every thread busy, few enough that the workspace stays small. */
const WAVE = 32;

export interface SsdScanBackwardStorages {
  x: CpuStorage; dt: CpuStorage; A: CpuStorage; D: CpuStorage | null; B: CpuStorage; C: CpuStorage; initialState: CpuStorage | null;
  gOut: CpuStorage; gLast: CpuStorage | null;
  dx: CpuStorage; ddt: CpuStorage; dA: CpuStorage; dD: CpuStorage | null; dB: CpuStorage; dC: CpuStorage; dInitialState: CpuStorage;
}


export function ssdScanBackwardOnPool(rt: WasmRuntime, s: SsdScanBackwardStorages, d: SsdScanDims): void {
  const { batch, L, heads: H, headDim: P, groups: G, N } = d;
  const tiles = batch * H;
  if (tiles === 0) return;
  const chunks = Math.ceil(L / CHUNK);
  // Boundary states, the chunk's CHUNK + 1 states and dh (P·N floats each), the decays (CHUNK floats, 16-byte padded), G·B per row (P vectors).
  const workBytes = Math.ceil((4 * P * N * (chunks + CHUNK + 2) + Math.ceil((4 * CHUNK) / 16) * 16 + 16 * P) / 64) * 64;
  const wave = Math.min(WAVE, tiles);
  const partFloats = L * N;
  const sizes = [wave * workBytes, tiles * 4, tiles * 4, tiles * partFloats * 4, tiles * partFloats * 4];
  const blocks = sizes.map((bytes) => rt.heap.alloc(bytes, false));
  try {
    if (blocks.some((b) => b === null)) throw new Error('internal: no room in the WebAssembly heap for the SSD backward workspace');
    const [work, dAParts, dDParts, dBParts, dCParts] = blocks as [number, number, number, number, number];
    const p = (x: CpuStorage | null) => (x ? x.ptr : 0);
    const args: number[] = [];
    args[SQB_X] = s.x.ptr;
    args[SQB_DT] = s.dt.ptr;
    args[SQB_A] = s.A.ptr;
    args[SQB_D] = p(s.D);
    args[SQB_B] = s.B.ptr;
    args[SQB_C] = s.C.ptr;
    args[SQB_H0] = p(s.initialState);
    args[SQB_G_OUT] = s.gOut.ptr;
    args[SQB_G_LAST] = p(s.gLast);
    args[SQB_DX] = s.dx.ptr;
    args[SQB_DDT] = s.ddt.ptr;
    args[SQB_DA_PARTS] = dAParts;
    args[SQB_DD_PARTS] = dDParts;
    args[SQB_DB_PARTS] = dBParts;
    args[SQB_DC_PARTS] = dCParts;
    args[SQB_DH0] = s.dInitialState.ptr;
    args[SQB_L] = L;
    args[SQB_HEADS] = H;
    args[SQB_HEAD_DIM] = P;
    args[SQB_GROUPS] = G;
    args[SQB_N] = N;
    args[SQB_CHUNK] = CHUNK;
    args[SQB_WORK] = work;
    args[SQB_WORK_BYTES] = workBytes;
    for (let base = 0; base < tiles; base += wave) {
      args[SQB_TILE_BASE] = base;
      rt.pool.run(K_SSD_SCAN_BACKWARD, args, Math.min(wave, tiles - base));
    }
    // Σ over tiles in order of tile: dA and dD per head over the sequences; dB and dC per
    // (sequence, token, group) over the group's heads.
    const buf = rt.heap.buffer;
    const dAp = new Float32Array(buf, dAParts, tiles);
    const dDp = new Float32Array(buf, dDParts, tiles);
    const dA = s.dA.data as Float32Array;
    const dD = s.D && s.dD ? (s.dD.data as Float32Array) : null;
    dA.fill(0);
    dD?.fill(0);
    for (let t = 0; t < tiles; t++) {
      dA[t % H] = dA[t % H]! + dAp[t]!;
      if (dD) dD[t % H] = dD[t % H]! + dDp[t]!;
    }
    const perGroup = H / G;
    for (const [parts, out] of [[dBParts, s.dB], [dCParts, s.dC]] as const) {
      const all = new Float32Array(buf, parts, tiles * partFloats);
      const o = out.data as Float32Array; // (batch, L, G, N)
      o.fill(0);
      for (let t = 0; t < tiles; t++) {
        const b = Math.floor(t / H);
        const g = Math.floor((t % H) / perGroup);
        for (let l = 0; l < L; l++) {
          const src = t * partFloats + l * N;
          const dst = ((b * L + l) * G + g) * N;
          for (let n = 0; n < N; n++) o[dst + n] = o[dst + n]! + all[src + n]!;
        }
      }
    }
  } finally {
    blocks.forEach((b, k) => {
      if (b !== null) rt.heap.free(b, sizes[k]!);
    });
  }
}
