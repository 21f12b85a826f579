/**
 * Random inputs of Mamba-2's SSD for the SSD tests (ssd, webgpu-ssd, webgpu-ssd-backward): one
 * generator, so that every test draws the same values for a shape and seed, in ranges where the
 * decays stay moderate (dt in [0.05, 0.6], A in [-2, -0.3]).
 */
import { randomArray } from './helpers.js';

export interface SsdShape {
  Bt: number;
  L: number;
  H: number;
  P: number;
  G: number;
  N: number;
}

export interface SsdInputData {
  data: Float32Array;
  shape: number[];
}

export type SsdInputName = 'x' | 'dt' | 'A' | 'B' | 'C' | 'D' | 'h0';

/** x (Bt, L, H, P), dt (Bt, L, H), A (H), B and C (Bt, L, G, N), D (H), h0 (Bt, H, P, N). */
export function ssdInputData(c: SsdShape, seed: number): Record<SsdInputName, SsdInputData> {
  return {
    x: { data: randomArray(c.Bt * c.L * c.H * c.P, seed), shape: [c.Bt, c.L, c.H, c.P] },
    dt: { data: randomArray(c.Bt * c.L * c.H, seed + 1, 0.05, 0.6), shape: [c.Bt, c.L, c.H] },
    A: { data: randomArray(c.H, seed + 2, -2, -0.3), shape: [c.H] },
    B: { data: randomArray(c.Bt * c.L * c.G * c.N, seed + 3), shape: [c.Bt, c.L, c.G, c.N] },
    C: { data: randomArray(c.Bt * c.L * c.G * c.N, seed + 4), shape: [c.Bt, c.L, c.G, c.N] },
    D: { data: randomArray(c.H, seed + 5), shape: [c.H] },
    h0: { data: randomArray(c.Bt * c.H * c.P * c.N, seed + 6), shape: [c.Bt, c.H, c.P, c.N] },
  };
}
