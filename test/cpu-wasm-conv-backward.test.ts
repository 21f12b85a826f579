/**
 * The causal conv's backward on the WebAssembly kernels (assembly/conv-backward.ts) against the
 * TypeScript reference kernel (conv-backward.ts): channels not a multiple of 4 and over several
 * tiles, K = 2 … 4, L = 1 and L shorter than K − 1 (the state gradient then takes part of the
 * state's own gradient), L = K − 1, batch > 1, with and without bias, state, the state's gradient (also
 * without an input state: the new state's gradient still reaches dx) and SiLU;
 * 1 and 3 threads give the same bits.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CpuBackend } from '../src/backend/cpu/index.js';
import type { CpuStorage } from '../src/backend/cpu/storage.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { f32OnOrNull } from './cpu-tensors.js';
import { assertClose, randomArray } from './helpers.js';

const wasm = new CpuBackend({ kernels: 'wasm' });
const reference = new CpuBackend({ kernels: 'ts' });

interface Case {
  B: number;
  L: number;
  D: number;
  K: number;
  bias: boolean;
  state: boolean;
  gState: boolean;
  silu: boolean;
}

const CASES: Case[] = [
  { B: 1, L: 1, D: 4, K: 4, bias: true, state: true, gState: true, silu: true },
  { B: 2, L: 2, D: 7, K: 4, bias: false, state: true, gState: true, silu: true }, // L < K − 1
  { B: 3, L: 17, D: 37, K: 3, bias: true, state: false, gState: false, silu: false }, // three channel tiles, a partial lane group
  { B: 2, L: 40, D: 64, K: 2, bias: true, state: true, gState: false, silu: true },
  { B: 1, L: 300, D: 130, K: 4, bias: true, state: true, gState: true, silu: true },
  { B: 4, L: 9, D: 16, K: 4, bias: false, state: false, gState: false, silu: true },
  { B: 2, L: 5, D: 21, K: 3, bias: true, state: false, gState: true, silu: true }, // the new state's gradient without an input state
  { B: 3, L: 1, D: 9, K: 2, bias: true, state: true, gState: true, silu: false },
  { B: 2, L: 3, D: 50, K: 4, bias: true, state: false, gState: true, silu: false }, // L = K − 1
];

function run(b: CpuBackend, c: Case) {
  const seed = c.B * 100 + c.L * 7 + c.D;
  const x = f32OnOrNull(b, randomArray(c.B * c.L * c.D, seed, -2, 2), [c.B, c.L, c.D])!;
  const w = f32OnOrNull(b, randomArray(c.D * c.K, seed + 1), [c.D, c.K])!;
  const bias = f32OnOrNull(b, c.bias ? randomArray(c.D, seed + 2) : null, [c.D]);
  const state = f32OnOrNull(b, c.state ? randomArray(c.B * c.D * (c.K - 1), seed + 3, -2, 2) : null, [c.B, c.D, c.K - 1]);
  const gOut = f32OnOrNull(b, randomArray(c.B * c.L * c.D, seed + 4), [c.B, c.L, c.D])!;
  const gState = f32OnOrNull(b, c.gState ? randomArray(c.B * c.D * (c.K - 1), seed + 5) : null, [c.B, c.D, c.K - 1]);
  const g = b.causalConv1dBackward(x, w, bias, state, { silu: c.silu }, gOut, gState);
  const read = (t: Tensor | null) => (t ? Float32Array.from(t.dataSync() as Float32Array) : null);
  const out = { dx: read(g.dx)!, dw: read(g.dw)!, dbias: read(g.dbias), dstate: read(g.dstate), heap: (g.dx.storage as CpuStorage).heap !== null };
  for (const t of [x, w, bias, state, gOut, gState, g.dx, g.dw, g.dbias, g.dstate]) t?.dispose();
  return out;
}

describe('WebAssembly causal conv backward against the TypeScript reference', () => {
  for (const c of CASES) {
    test(`${JSON.stringify(c)}: matches, and 1 and 3 threads give the same bits`, () => {
      const want = run(reference, c);
      wasm.memory.runtime!.setThreads(1);
      const one = run(wasm, c);
      assert.ok(one.heap, 'the WebAssembly kernel ran (its output lives in the heap)');
      assertClose('dx', one.dx, want.dx, 2e-5);
      assertClose('dw', one.dw, want.dw, 2e-5);
      assert.equal(one.dbias === null, !c.bias);
      assert.equal(one.dstate === null, !c.state);
      if (want.dbias) assertClose('dbias', one.dbias!, want.dbias, 2e-5);
      if (want.dstate) assertClose('dstate', one.dstate!, want.dstate, 2e-5);
      wasm.memory.runtime!.setThreads(3);
      const three = run(wasm, c);
      assert.deepEqual(three, one, '3 threads vs 1');
    });
  }
});
