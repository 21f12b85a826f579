/**
 * The CPU's fused SSD forward and backward (CpuBackend.ssdChunkedForward / ssdChunkedBackward:
 * Mamba-2's recurrence token by token on the WebAssembly kernels, assembly/ssd-scan.ts and
 * ssd-scan-backward.ts) against the composed token-by-token reference (ops/ssd.ts ssdSequential,
 * whose gradients come from the tape): N not a multiple of 4, several groups, a group per head,
 * L = 1, L over several recomputed chunks, more tiles than one wave, batch > 1, with and without D
 * and an initial state, a loss on the output only; outputs, last states and every input's gradient;
 * 1 and 3 threads give the same bits; ssdChunked takes the fused pair with and without a gradient.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { backward } from '../src/autograd/backward.js';
import { markLeaf, noGrad, type GradSlot } from '../src/autograd/tape.js';
import { CpuBackend } from '../src/backend/cpu/index.js';
import { getBackend } from '../src/backend/registry.js';
import { add, mul, reshape, ssdChunked, ssdSequential, sum, tensor } from '../src/ops/index.js';
import { tidy } from '../src/tensor/memory.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { f32On } from './cpu-tensors.js';
import { assertClose, randomArray } from './helpers.js';
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
  { Bt: 3, L: 33, H: 8, P: 16, G: 2, N: 32, initial: true, skip: true }, // 33 tokens: three recomputed chunks of 16
  { Bt: 5, L: 20, H: 12, P: 4, G: 3, N: 6, initial: true, skip: false }, // 60 (sequence, head) tiles: several waves
];

/** The case's inputs on backend `b` (a CpuBackend of this test's own), or through tensor() on the default CPU backend. */
function inputs(b: CpuBackend | null, c: Case) {
  const d = ssdInputData(c, c.L * 7 + c.N);
  const t = (k: keyof typeof d) => (b ? f32On(b, d[k].data, d[k].shape) : tensor(d[k].data, d[k].shape, { device: 'cpu' }));
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

});


const NAMES = ['x', 'dt', 'A', 'B', 'C', 'D', 'h0'] as const;

/**
 * Output, last state and the gradient of Σ w₁·out + Σ w₂·state for every input, through `run` on the
 * default CPU backend, and how often the CPU's fused backward ran.
 */
function withGradients(c: Case, run: (t: Record<string, Tensor>) => { out: Tensor; lastState: Tensor }, outOnly = false) {
  const cpu = getBackend('cpu') as CpuBackend;
  const d = ssdInputData(c, c.L * 7 + c.N);
  const names = NAMES.filter((k) => (k !== 'h0' || c.initial) && (k !== 'D' || c.skip));
  const ts: Record<string, Tensor> = {};
  const slots = new Map<string, GradSlot>();
  for (const k of names) {
    ts[k] = tensor(d[k].data, d[k].shape, { device: 'cpu' });
    const slot: GradSlot = { grad: null };
    markLeaf(ts[k]!, slot);
    slots.set(k, slot);
  }
  const original = cpu.ssdChunkedBackward.bind(cpu);
  let fusedBackward = 0;
  cpu.ssdChunkedBackward = (...a) => {
    fusedBackward++;
    return original(...a);
  };
  try {
    const r = run(ts);
    const loss = tidy(() => {
      const w1 = tensor(randomArray(r.out.size, 90), r.out.shape, { device: 'cpu' });
      const w2 = tensor(randomArray(r.lastState.size, 91), r.lastState.shape, { device: 'cpu' });
      const onOut = sum(reshape(mul(r.out, w1), [1, r.out.size]));
      return outOnly ? onOut : add(onOut, sum(reshape(mul(r.lastState, w2), [1, r.lastState.size])));
    });
    const res = { out: r.out.dataSync() as Float32Array, state: r.lastState.dataSync() as Float32Array, grads: new Map<string, Float32Array>(), fusedBackward: 0 };
    backward(loss);
    for (const t of [loss, r.out, r.lastState]) t.dispose();
    for (const [k, slot] of slots) {
      assert.ok(slot.grad, `${k} received a gradient`);
      res.grads.set(k, slot.grad.dataSync() as Float32Array);
      slot.grad.dispose();
    }
    res.fusedBackward = fusedBackward;
    return res;
  } finally {
    cpu.ssdChunkedBackward = original;
    for (const t of Object.values(ts)) t.dispose();
  }
}

describe('CPU fused SSD backward against the tape of the token-by-token reference', () => {
  const cpu = getBackend('cpu') as CpuBackend;
  for (const c of CASES) {
    test(`${JSON.stringify(c)}: forward and every gradient match, and 1 and 3 threads give the same bits`, { skip: cpu.memory.runtime ? false : 'the CPU backend runs its TypeScript kernels here (no fused SSD)' }, () => {
      const opts = (t: Record<string, Tensor>) => ({ D: t['D'] ?? null, initialState: t['h0'] ?? null });
      const args = (t: Record<string, Tensor>) => [t['x']!, t['dt']!, t['A']!, t['B']!, t['C']!] as const;
      const want = withGradients(c, (t) => ssdSequential(...args(t), opts(t)));
      assert.equal(want.fusedBackward, 0, 'the reference runs on the tape');
      const threads = cpu.memory.runtime!.threads;
      try {
        cpu.memory.runtime!.setThreads(1);
        const one = withGradients(c, (t) => ssdChunked(...args(t), 4, opts(t)));
        assert.equal(one.fusedBackward, 1, 'ssdChunked with a gradient ran the fused backward');
        assertClose('out', one.out, want.out, 2e-5);
        assertClose('last state', one.state, want.state, 2e-5);
        for (const [k, g] of want.grads) assertClose(`d/d${k}`, one.grads.get(k)!, g, 1e-4);
        cpu.memory.runtime!.setThreads(3);
        const three = withGradients(c, (t) => ssdChunked(...args(t), 4, opts(t)));
        assert.deepEqual(three.out, one.out, '3 threads vs 1: out');
        for (const [k, g] of one.grads) assert.deepEqual(three.grads.get(k), g, `3 threads vs 1: d/d${k}`);
      } finally {
        cpu.memory.runtime!.setThreads(threads);
      }
    });
  }

  test('a loss on the output only (no gradient reaches the last state)', { skip: cpu.memory.runtime ? false : 'no WebAssembly kernels here' }, () => {
    const c = CASES[4]!;
    const opts = (t: Record<string, Tensor>) => ({ D: t['D'] ?? null, initialState: t['h0'] ?? null });
    const args = (t: Record<string, Tensor>) => [t['x']!, t['dt']!, t['A']!, t['B']!, t['C']!] as const;
    const want = withGradients(c, (t) => ssdSequential(...args(t), opts(t)), true);
    const got = withGradients(c, (t) => ssdChunked(...args(t), 4, opts(t)), true);
    assert.equal(got.fusedBackward, 1);
    for (const [k, g] of want.grads) assertClose(`d/d${k}`, got.grads.get(k)!, g, 1e-4);
  });

  test('ssdChunked without a gradient takes the fused forward', { skip: cpu.memory.runtime ? false : 'no WebAssembly kernels here' }, () => {
    const c = CASES[1]!;
    const i = inputs(null, c);
    const original = cpu.ssdChunkedForward.bind(cpu);
    let ran = 0;
    cpu.ssdChunkedForward = (a) => {
      const r = original(a);
      if (r) ran++;
      return r;
    };
    try {
      const r = noGrad(() => ssdChunked(i.x, i.dt, i.A, i.B, i.C, 4, { D: i.D, initialState: i.initialState }));
      assert.equal(ran, 1);
      r.out.dispose();
      r.lastState.dispose();
    } finally {
      cpu.ssdChunkedForward = original;
      for (const t of Object.values(i)) t?.dispose();
    }
  });
});
