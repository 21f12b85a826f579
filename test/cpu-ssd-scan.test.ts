/**
 * The CPU's fused SSD forward (CpuBackend.ssdChunkedForward: Mamba-2's recurrence token by token on
 * the WebAssembly kernels, assembly/ssd-scan.ts) against the composed token-by-token reference
 * (ops/ssd.ts ssdSequential: composed ops on the default CPU backend): N not a multiple of 4, several groups, a
 * group per head, L = 1, batch > 1, with and without D and an initial state; 1 and 3 threads give
 * the same bits. And ssdChunked takes it only where no gradient is recorded.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { markLeaf, noGrad, type GradSlot } from '../src/autograd/tape.js';
import { CpuBackend } from '../src/backend/cpu/index.js';
import { getBackend } from '../src/backend/registry.js';
import { ssdChunked, ssdSequential, tensor } from '../src/ops/index.js';
import { StorageRef, Tensor } from '../src/tensor/tensor.js';
import { assertClose } from './helpers.js';
import { ssdInputData, type SsdShape } from './ssd-inputs.js';

const wasm = new CpuBackend({ kernels: 'wasm' });

interface Case extends SsdShape {
  initial: boolean;
  skip: boolean;
}

const CASES: Case[] = [
  { Bt: 2, L: 13, H: 4, P: 3, G: 2, N: 5, initial: false, skip: true },
  { Bt: 1, L: 10, H: 6, P: 2, G: 3, N: 4, initial: true, skip: true },
  { Bt: 2, L: 1, H: 2, P: 4, G: 1, N: 3, initial: true, skip: false }, // one token
  { Bt: 1, L: 16, H: 4, P: 2, G: 4, N: 13, initial: false, skip: false }, // a group per head
  { Bt: 3, L: 33, H: 8, P: 16, G: 2, N: 32, initial: true, skip: true },
];

function on(b: CpuBackend, data: Float32Array, shape: number[]): Tensor {
  return new Tensor(shape, 'f32', new StorageRef(b, b.upload(data)));
}

/** The case's inputs on backend `b` (a CpuBackend of this test's own), or through tensor() on the default CPU backend. */
function inputs(b: CpuBackend | null, c: Case) {
  const d = ssdInputData(c, c.L * 7 + c.N);
  const t = (k: keyof typeof d) => (b ? on(b, d[k].data, d[k].shape) : tensor(d[k].data, d[k].shape, { device: 'cpu' }));
  return { x: t('x'), dt: t('dt'), A: t('A'), B: t('B'), C: t('C'), D: c.skip ? t('D') : null, initialState: c.initial ? t('h0') : null };
}

function fused(c: Case): { out: Float32Array; state: Float32Array } {
  const i = inputs(wasm, c);
  const r = wasm.ssdChunkedForward({ ...i, chunk: Math.min(4, c.L) });
  assert.ok(r, 'the WebAssembly SSD forward ran');
  const res = { out: r.out.dataSync() as Float32Array, state: r.lastState.dataSync() as Float32Array };
  for (const t of [r.out, r.lastState, ...Object.values(i)]) t?.dispose();
  return res;
}

describe('CPU fused SSD forward against the token-by-token reference', () => {
  for (const c of CASES) {
    test(`${JSON.stringify(c)}: matches, and 1 and 3 threads give the same bits`, () => {
      const i = inputs(null, c);
      const want = ssdSequential(i.x, i.dt, i.A, i.B, i.C, { D: i.D, initialState: i.initialState });
      wasm.memory.runtime!.setThreads(1);
      const one = fused(c);
      assertClose('out', one.out, want.out.dataSync(), 2e-5);
      assertClose('last state', one.state, want.lastState.dataSync(), 2e-5);
      wasm.memory.runtime!.setThreads(3);
      const three = fused(c);
      assert.deepEqual(three.out, one.out, '3 threads vs 1: out');
      assert.deepEqual(three.state, one.state, '3 threads vs 1: last state');
      for (const t of [want.out, want.lastState, ...Object.values(i)]) t?.dispose();
    });
  }

  test('refuses to keep state for a backward (the composed chunked ops run instead)', () => {
    const c = CASES[0]!;
    const i = inputs(wasm, c);
    assert.equal(wasm.ssdChunkedForward({ ...i, chunk: 4, keep: true }), null);
    for (const t of Object.values(i)) t?.dispose();
  });
});

test('ssdChunked on the CPU takes the fused forward without a gradient, the composed ops with one', () => {
  const cpu = getBackend('cpu') as CpuBackend;
  if (!cpu.memory.runtime) return; // the TypeScript kernels: no fused forward (tested above with the WebAssembly ones)
  const c = CASES[1]!;
  const d = ssdInputData(c, 3);
  const t = (k: keyof typeof d) => tensor(d[k].data, d[k].shape, { device: 'cpu' });
  const [x, dt, A, B, C, D, h0] = (['x', 'dt', 'A', 'B', 'C', 'D', 'h0'] as const).map(t) as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
  const original = cpu.ssdChunkedForward.bind(cpu);
  let ran = 0;
  cpu.ssdChunkedForward = (i) => {
    const r = original(i);
    if (r) ran++;
    return r;
  };
  try {
    const inference = noGrad(() => ssdChunked(x, dt, A, B, C, 4, { D, initialState: h0 }));
    assert.equal(ran, 1, 'no gradient: the fused forward');
    const seq = noGrad(() => ssdSequential(x, dt, A, B, C, { D, initialState: h0 }));
    assertClose('out', inference.out.dataSync(), seq.out.dataSync(), 2e-5);
    const slot: GradSlot = { grad: null };
    markLeaf(x, slot); // x now takes a gradient: the forward is recorded
    const trained = ssdChunked(x, dt, A, B, C, 4, { D, initialState: h0 });
    assert.equal(ran, 1, 'with a gradient: the composed ops');
    assertClose('out with a gradient', trained.out.dataSync(), seq.out.dataSync(), 2e-5);
    for (const r of [inference, seq, trained]) {
      r.out.dispose();
      r.lastState.dispose();
    }
  } finally {
    cpu.ssdChunkedForward = original;
    for (const v of [x, dt, A, B, C, D, h0]) v.dispose();
  }
});
