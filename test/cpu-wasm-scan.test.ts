/**
 * The WebAssembly selective scan, state update and causal conv against the TypeScript reference
 * kernels, on every shape class: channels not a multiple of 4 (the partial lane group), several
 * channel tiles, N not a multiple of 4, L = 1, batch > 1, with and without an initial state, z, D,
 * Δ bias and softplus; and 1 vs 3 threads, which must give the same bits. The vectorised exp,
 * softplus and SiLU are checked against Math over wide ranges through one-step scans that reduce
 * to them.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CpuBackend } from '../src/backend/cpu/index.js';
import type { CpuStorage } from '../src/backend/cpu/storage.js';
import { f32On } from './cpu-tensors.js';
import { assertClose, randomArray } from './helpers.js';

const wasm = new CpuBackend({ kernels: 'wasm' });
const reference = new CpuBackend({ kernels: 'ts' });

interface ScanCase {
  batch: number;
  L: number;
  D: number;
  N: number;
  z?: boolean;
  Dskip?: boolean;
  bias?: boolean;
  softplus?: boolean;
  h0?: boolean;
}

function scanName(c: ScanCase): string {
  const opts = ['z', 'Dskip', 'bias', 'softplus', 'h0'].filter((k) => c[k as keyof ScanCase]);
  return `scan batch ${c.batch} L ${c.L} D ${c.D} N ${c.N} [${opts.join(' ')}]`;
}

function scanData(c: ScanCase) {
  const { batch, L, D, N } = c;
  const seed = batch * 1000 + L * 31 + D * 7 + N;
  return {
    u: randomArray(batch * L * D, seed + 1),
    delta: randomArray(batch * L * D, seed + 2, c.softplus ? -3 : 0, c.softplus ? 1 : 0.5),
    A: randomArray(D * N, seed + 3, -2, -0.05),
    B: randomArray(batch * L * N, seed + 4),
    C: randomArray(batch * L * N, seed + 5),
    D: c.Dskip ? randomArray(D, seed + 6) : null,
    z: c.z ? randomArray(batch * L * D, seed + 7, -4, 4) : null,
    bias: c.bias ? randomArray(D, seed + 8, -1, 0.5) : null,
    h0: c.h0 ? randomArray(batch * D * N, seed + 9) : null,
  };
}

function runScan(b: CpuBackend, c: ScanCase): { out: Float32Array; last: Float32Array; heap: boolean } {
  const { batch, L, D, N } = c;
  const d = scanData(c);
  const t = (x: Float32Array | null, shape: number[]) => (x ? f32On(b, x, shape) : null);
  const inputs = {
    u: t(d.u, [batch, L, D])!, delta: t(d.delta, [batch, L, D])!, A: t(d.A, [D, N])!, B: t(d.B, [batch, L, N])!, C: t(d.C, [batch, L, N])!,
    D: t(d.D, [D]), z: t(d.z, [batch, L, D]), deltaBias: t(d.bias, [D]), initialState: t(d.h0, [batch, D, N]),
  };
  const r = b.selectiveScan(inputs, { deltaSoftplus: !!c.softplus });
  const res = { out: r.out.dataSync() as Float32Array, last: r.lastState.dataSync() as Float32Array, heap: (r.out.storage as CpuStorage).heap !== null };
  for (const x of [...Object.values(inputs), r.out, r.lastState]) x?.dispose();
  return res;
}

function runStep(b: CpuBackend, c: ScanCase): { out: Float32Array; state: Float32Array } {
  const { batch, D, N } = c;
  const d = scanData({ ...c, L: 1, h0: true });
  const t = (x: Float32Array | null, shape: number[]) => (x ? f32On(b, x, shape) : null);
  const inputs = {
    state: t(d.h0, [batch, D, N])!, x: t(d.u, [batch, D])!, dt: t(d.delta, [batch, D])!, A: t(d.A, [D, N])!, B: t(d.B, [batch, N])!,
    C: t(d.C, [batch, N])!, D: t(d.D, [D]), z: t(d.z, [batch, D]), dtBias: t(d.bias, [D]),
  };
  const r = b.selectiveStateUpdate(inputs, { deltaSoftplus: !!c.softplus });
  const res = { out: r.out.dataSync() as Float32Array, state: r.state.dataSync() as Float32Array };
  for (const x of [...Object.values(inputs), r.out, r.state]) x?.dispose();
  return res;
}

const all = { z: true, Dskip: true, bias: true, softplus: true, h0: true };
const scanCases: ScanCase[] = [
  { batch: 1, L: 1, D: 4, N: 4, ...all },
  { batch: 1, L: 37, D: 48, N: 16, ...all }, // several channel tiles
  { batch: 2, L: 19, D: 7, N: 5, ...all }, // partial lane group, N not a multiple of 4
  { batch: 3, L: 1, D: 35, N: 16, ...all },
  { batch: 1, L: 64, D: 18, N: 3 },
  { batch: 2, L: 10, D: 20, N: 1, z: true },
  { batch: 1, L: 25, D: 6, N: 8, Dskip: true, softplus: true },
  { batch: 2, L: 13, D: 33, N: 16, bias: true, h0: true },
  { batch: 1, L: 300, D: 5, N: 16, ...all }, // long sequences accumulate
];

describe('WebAssembly selective scan against the TypeScript reference', () => {
  for (const c of scanCases) {
    test(`${scanName(c)}: matches, and 1 and 3 threads give the same bits`, () => {
      wasm.memory.runtime!.setThreads(1);
      const one = runScan(wasm, c);
      assert.ok(one.heap, 'the output lives in the WebAssembly heap');
      const want = runScan(reference, c);
      assertClose(`${scanName(c)} out`, one.out, want.out, 2e-5);
      assertClose(`${scanName(c)} last state`, one.last, want.last, 2e-5);
      wasm.memory.runtime!.setThreads(3);
      const three = runScan(wasm, c);
      assert.deepEqual(three.out, one.out, '3 threads vs 1: out');
      assert.deepEqual(three.last, one.last, '3 threads vs 1: last state');
    });
    test(`state update ${scanName({ ...c, L: 1 })}: matches, and 1 and 3 threads give the same bits`, () => {
      wasm.memory.runtime!.setThreads(1);
      const one = runStep(wasm, c);
      const want = runStep(reference, c);
      assertClose('step out', one.out, want.out, 2e-5);
      assertClose('step state', one.state, want.state, 2e-5);
      wasm.memory.runtime!.setThreads(3);
      const three = runStep(wasm, c);
      assert.deepEqual(three.out, one.out);
      assert.deepEqual(three.state, one.state);
    });
  }
});

/** y[i] = the one-step scan of channel i with N = 1, h0 = 1, B = 0, C = 1: y = exp(A·Δ) (Δ = δ, no softplus). */
function oneStep(b: CpuBackend, delta: Float32Array, A: Float32Array, opts: { softplus?: boolean; h0?: number; B?: number; z?: Float32Array }): Float32Array {
  const D = delta.length;
  const r = b.selectiveScan(
    {
      u: f32On(b, new Float32Array(D).fill(1), [1, 1, D]), delta: f32On(b, delta, [1, 1, D]), A: f32On(b, A, [D, 1]),
      B: f32On(b, new Float32Array([opts.B ?? 0]), [1, 1, 1]), C: f32On(b, new Float32Array([1]), [1, 1, 1]), D: null,
      z: opts.z ? f32On(b, opts.z, [1, 1, D]) : null, deltaBias: null, initialState: f32On(b, new Float32Array(D).fill(opts.h0 ?? 0), [1, D, 1]),
    },
    { deltaSoftplus: !!opts.softplus },
  );
  return r.out.dataSync() as Float32Array;
}

function relErrors(got: Float32Array, want: (i: number) => number): number {
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    const w = want(i);
    worst = Math.max(worst, Math.abs(got[i]! - w) / Math.max(Math.abs(w), 1e-30));
  }
  return worst;
}

describe('vectorised exp, softplus and SiLU against Math', () => {
  const n = 4001;
  test('exp over [-87, 88]: relative error under 3e-7', () => {
    const x = Float32Array.from({ length: n }, (_, i) => -87 + (175 * i) / (n - 1));
    // exp(A·Δ) with Δ = 1, A = x.
    const got = oneStep(wasm, new Float32Array(n).fill(1), x, { h0: 1 });
    const err = relErrors(got, (i) => Math.exp(x[i]!));
    assert.ok(err < 3e-7, `worst relative error ${err}`);
  });
  test('softplus over [-30, 30]: relative error under 1e-6 (the log1p range included)', () => {
    const x = Float32Array.from({ length: n }, (_, i) => -30 + (60 * i) / (n - 1));
    // h = exp(0)·0 + Δ·B·u = softplus(δ) with A = 0, B = u = 1, h0 = 0.
    const got = oneStep(wasm, x, new Float32Array(n), { softplus: true, B: 1 });
    const err = relErrors(got, (i) => (x[i]! > 20 ? x[i]! : Math.log1p(Math.exp(x[i]!))));
    assert.ok(err < 1e-6, `worst relative error ${err}`);
  });
  test('SiLU over [-80, 80]: error under 1e-6 relative to max(|silu|, 1e-3)', () => {
    const z = Float32Array.from({ length: n }, (_, i) => -80 + (160 * i) / (n - 1));
    // y = h · silu(z) with h = 1 (A = 0, h0 = 1, B = 0).
    const got = oneStep(wasm, new Float32Array(n).fill(1), new Float32Array(n), { h0: 1, z });
    let worst = 0;
    for (let i = 0; i < n; i++) {
      const w = z[i]! / (1 + Math.exp(-z[i]!));
      worst = Math.max(worst, Math.abs(got[i]! - w) / Math.max(Math.abs(w), 1e-3));
    }
    assert.ok(worst < 1e-6, `worst error ${worst}`);
  });
});

interface ConvCase {
  batch: number;
  L: number;
  D: number;
  K: number;
  bias?: boolean;
  state?: boolean;
  silu?: boolean;
}

function runConv(b: CpuBackend, c: ConvCase): { out: Float32Array; state: Float32Array } {
  const { batch, L, D, K } = c;
  const seed = batch * 100 + L * 13 + D * 3 + K;
  const x = f32On(b, randomArray(batch * L * D, seed), [batch, L, D]);
  const w = f32On(b, randomArray(D * K, seed + 1), [D, K]);
  const bias = c.bias ? f32On(b, randomArray(D, seed + 2), [D]) : null;
  const state = c.state ? f32On(b, randomArray(batch * D * (K - 1), seed + 3), [batch, D, K - 1]) : null;
  const r = b.causalConv1d(x, w, bias, state, { silu: !!c.silu });
  const res = { out: r.out.dataSync() as Float32Array, state: r.state.dataSync() as Float32Array };
  for (const t of [x, w, bias, state, r.out, r.state]) t?.dispose();
  return res;
}

const convCases: ConvCase[] = [
  { batch: 1, L: 50, D: 48, K: 4, bias: true, silu: true },
  { batch: 2, L: 2, D: 7, K: 4, bias: true, state: true, silu: true }, // L < K − 1: the new state mixes old state and x
  { batch: 3, L: 1, D: 35, K: 4, bias: true, state: true, silu: true }, // a decode step
  { batch: 1, L: 9, D: 5, K: 1 },
  { batch: 2, L: 17, D: 21, K: 3, state: true },
];

describe('WebAssembly causal conv1d against the TypeScript reference', () => {
  for (const c of convCases) {
    const name = `conv batch ${c.batch} L ${c.L} D ${c.D} K ${c.K} bias ${!!c.bias} state ${!!c.state} silu ${!!c.silu}`;
    test(`${name}: matches, and 1 and 3 threads give the same bits`, () => {
      wasm.memory.runtime!.setThreads(1);
      const one = runConv(wasm, c);
      const want = runConv(reference, c);
      assertClose(`${name} out`, one.out, want.out, 1e-6);
      assert.deepEqual(one.state, want.state, 'the new state is copied, not computed');
      wasm.memory.runtime!.setThreads(3);
      const three = runConv(wasm, c);
      assert.deepEqual(three.out, one.out);
      assert.deepEqual(three.state, one.state);
    });
  }
});
