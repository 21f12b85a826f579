/** Random inputs for the scan-backward tests (WebGPU against the CPU, WebAssembly against TS). */
import { randomArray } from './helpers.js';

/** A shape, which optional inputs are present, and whether Δ goes through softplus. */
export interface ScanBackwardCase {
  B: number;
  L: number;
  D: number;
  N: number;
  withD: boolean;
  z: boolean;
  bias: boolean;
  h0: boolean;
  gLast: boolean;
  softplus: boolean;
}

export type ScanBackwardData = {
  u: Float32Array;
  delta: Float32Array;
  A: Float32Array;
  B: Float32Array;
  C: Float32Array;
  D: Float32Array | null;
  z: Float32Array | null;
  deltaBias: Float32Array | null;
  initialState: Float32Array | null;
  gOut: Float32Array;
  gLast: Float32Array | null;
};

export function scanBackwardData(c: ScanBackwardCase, seed: number): ScanBackwardData {
  const { B, L, D, N } = c;
  return {
    u: randomArray(B * L * D, seed),
    // Δ before softplus: negative enough that the decays stay in (0, 1) without softplus too.
    delta: c.softplus ? randomArray(B * L * D, seed + 1, -4, 1) : randomArray(B * L * D, seed + 1, 0.01, 0.5),
    A: randomArray(D * N, seed + 2, -3, -0.01),
    B: randomArray(B * L * N, seed + 3),
    C: randomArray(B * L * N, seed + 4),
    D: c.withD ? randomArray(D, seed + 5) : null,
    z: c.z ? randomArray(B * L * D, seed + 6) : null,
    deltaBias: c.bias ? randomArray(D, seed + 7, c.softplus ? -1 : 0, c.softplus ? 1 : 0.1) : null,
    initialState: c.h0 ? randomArray(B * D * N, seed + 8) : null,
    gOut: randomArray(B * L * D, seed + 9),
    gLast: c.gLast ? randomArray(B * D * N, seed + 10) : null,
  };
}
