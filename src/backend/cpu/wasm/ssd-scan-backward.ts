/**
 * The backward of Mamba-2's state space layer over a sequence on the WebAssembly kernels
 * (assembly/ssd-scan-backward.ts): a tile per (sequence, head), run in waves of tiles that reuse
 * one workspace (each tile's recomputed states take (chunks + chunk + 2) states of P × N floats)
 * and one block of partial sums, each tile's partial dA, dD, dB and dC added in order of tile after
 * its wave, so that every thread count (and wave size) gives the same bits.
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

export interface SsdScanBackwardStorages {
  x: CpuStorage; dt: CpuStorage; A: CpuStorage; D: CpuStorage | null; B: CpuStorage; C: CpuStorage; initialState: CpuStorage | null;
  gOut: CpuStorage; gLast: CpuStorage | null;
  dx: CpuStorage; ddt: CpuStorage; dA: CpuStorage; dD: CpuStorage | null; dB: CpuStorage; dC: CpuStorage; dInitialState: CpuStorage;
}

/**
 * Runs the backward in waves of tiles (a few per thread: each wave's workspace and partial sums are
 * reused by the next), adding each wave's partial sums right after it, in order of tile. Throws
 * where the heap has no room for one wave's workspace.
 */
export function ssdScanBackwardOnPool(rt: WasmRuntime, s: SsdScanBackwardStorages, d: SsdScanDims): void {
  const { batch, L, heads: H, headDim: P, groups: G, N } = d;
  const tiles = batch * H;
  if (tiles === 0) return;
  const chunks = Math.ceil(L / CHUNK);
  // Boundary states, the chunk's CHUNK + 1 states and dh (P·N floats each), the decays (CHUNK floats, 16-byte padded), G·B per row (P vectors).
  const workBytes = Math.ceil((4 * P * N * (chunks + CHUNK + 2) + Math.ceil((4 * CHUNK) / 16) * 16 + 16 * P) / 64) * 64;
  const wave = Math.min(tiles, Math.max(8, 4 * rt.threads));
  const partFloats = L * N;
  const sizes = [wave * workBytes, wave * 4, wave * 4, wave * partFloats * 4, wave * partFloats * 4];
  const blocks = sizes.map((bytes) => rt.heap.alloc(bytes, false));
  try {
    if (blocks.some((b) => b === null)) {
      throw new Error(`cpu: the WebAssembly heap has no room for the SSD backward's workspace (${Math.ceil(sizes.reduce((a, b) => a + b, 0) / 2 ** 20)} MiB)`);
    }
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
    const dA = s.dA.data as Float32Array;
    const dD = s.D && s.dD ? (s.dD.data as Float32Array) : null;
    const dB = s.dB.data as Float32Array; // (batch, L, G, N)
    const dC = s.dC.data as Float32Array;
    dA.fill(0);
    dD?.fill(0);
    dB.fill(0);
    dC.fill(0);
    const perGroup = H / G;
    for (let base = 0; base < tiles; base += wave) {
      const count = Math.min(wave, tiles - base);
      args[SQB_TILE_BASE] = base;
      rt.pool.run(K_SSD_SCAN_BACKWARD, args, count);
      // Σ over tiles in order of tile: dA and dD per head over the sequences; dB and dC per
      // (sequence, token, group) over the group's heads. (Views after the run: the heap's buffer may have grown.)
      const buf = rt.heap.buffer;
      const dAp = new Float32Array(buf, dAParts, count);
      const dDp = new Float32Array(buf, dDParts, count);
      const dBp = new Float32Array(buf, dBParts, count * partFloats);
      const dCp = new Float32Array(buf, dCParts, count * partFloats);
      for (let k = 0; k < count; k++) {
        const t = base + k;
        const h = t % H;
        dA[h] = dA[h]! + dAp[k]!;
        if (dD) dD[h] = dD[h]! + dDp[k]!;
        const b = Math.floor(t / H);
        const g = Math.floor(h / perGroup);
        for (const [parts, out] of [[dBp, dB], [dCp, dC]] as const) {
          for (let l = 0; l < L; l++) {
            const src = k * partFloats + l * N;
            const dst = ((b * L + l) * G + g) * N;
            for (let n = 0; n < N; n++) out[dst + n] = out[dst + n]! + parts[src + n]!;
          }
        }
      }
    }
  } finally {
    blocks.forEach((b, k) => {
      if (b !== null) rt.heap.free(b, sizes[k]!);
    });
  }
}
