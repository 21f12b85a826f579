/**
 * The chunked (parallel) selective scan against the sequential reference, on random shapes:
 * L not a multiple of the chunk, N from 1 to 64, batch 1..4, with and without an initial state.
 */
import { test } from 'node:test';
import { selectiveScanChunked } from '../src/backend/cpu/scan-chunked.js';
import { selectiveScanSequential, type ScanArrays } from '../src/backend/cpu/scan-reference.js';
import { tidy } from '../src/tensor/memory.js';
import { scanCase } from './conformance-cases.js';
import { availableDevices } from './devices.js';
import { assertClose, randomArray } from './helpers.js';

function relCheck(name: string, got: Float32Array, want: Float32Array): void {
  assertClose(name, got, want, 1e-5);
}

const shapes: [number, number, number, number, number][] = [
  // batch, L, D, N, chunk
  [1, 1, 3, 1, 4],
  [1, 17, 5, 16, 4],
  [2, 63, 7, 64, 16],
  [3, 100, 4, 2, 32],
  [4, 129, 6, 33, 64],
  [1, 64, 8, 16, 64],
  [2, 250, 3, 8, 7],
];

for (const [batch, L, D, N, chunk] of shapes) {
  for (const withState of [false, true]) {
    test(`chunked scan equals sequential: B=${batch} L=${L} D=${D} N=${N} chunk=${chunk} initialState=${withState}`, () => {
      const seed = batch * 1000 + L * 10 + N;
      const a: ScanArrays = {
        u: randomArray(batch * L * D, seed),
        delta: randomArray(batch * L * D, seed + 1, -4, 1),
        A: randomArray(D * N, seed + 2, -3, -0.01),
        B: randomArray(batch * L * N, seed + 3),
        C: randomArray(batch * L * N, seed + 4),
        D: randomArray(D, seed + 5),
        z: randomArray(batch * L * D, seed + 6),
        deltaBias: randomArray(D, seed + 7),
        initialState: withState ? randomArray(batch * D * N, seed + 8) : null,
      };
      const dims = { batch, L, D, N };
      const outRef = new Float32Array(batch * L * D);
      const lastRef = new Float32Array(batch * D * N);
      selectiveScanSequential(a, dims, true, outRef, lastRef);
      const out = new Float32Array(batch * L * D);
      const last = new Float32Array(batch * D * N);
      selectiveScanChunked(a, dims, true, out, last, chunk);
      relCheck('out', out, outRef);
      relCheck('last state', last, lastRef);
    });
  }
}

// The fused GPU scan against the same sequential reference, on shapes that exercise its edges:
// D not a multiple of the workgroup (64), N up to 64, L not a multiple of the chunk, many chunks.

for (const device of (await availableDevices()).filter((d) => d !== 'cpu')) {
  const gpuShapes: [number, number, number, number][] = [
    [1, 1, 1, 16],
    [2, 333, 100, 64],
    [3, 1000, 70, 16],
    [1, 5000, 130, 1],
    [4, 4099, 129, 8],
  ];
  for (const [B, L, D, N] of gpuShapes) {
    for (const h0 of [false, true]) {
      test(`${device} fused scan equals the sequential reference: B=${B} L=${L} D=${D} N=${N} initialState=${h0}`, async () => {
        const c = scanCase(B, L, D, N, h0, B * 7 + L + D + N);
        const outs = tidy(() => c.run(device));
        const refs = c.reference();
        assertClose('out', await outs[0]!.data(), refs[0]!, 1e-5);
        assertClose('last state', await outs[1]!.data(), refs[1]!, 1e-5);
        outs.forEach((o) => o.dispose());
      });
    }
  }
}
