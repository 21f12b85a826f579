/**
 * Mamba-2's chunked SSD algorithm against the token-by-token recurrence, on every backend present,
 * through the backend's fused pair and through the composed chunked ops (MAMBA_TS_SSD_BACKWARD=composed):
 * outputs, final states and the gradients of every input agree, for sequences that are not a
 * multiple of the chunk, several heads per group, several groups, with and without an initial
 * state; and the one-token step continues a chunked prefix exactly.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backward } from '../src/autograd/backward.js';
import { markLeaf, type GradSlot } from '../src/autograd/tape.js';
import { gradcheck } from '../src/autograd/gradcheck.js';
import type { DeviceName } from '../src/backend/registry.js';
import { add, mul, reshape, slice, sum, tensor, ssdChunked, ssdSequential, ssdStep, type SsdResult } from '../src/ops/index.js';
import { liveTensorCount, tidy } from '../src/tensor/memory.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { availableDevices } from './devices.js';
import { assertClose, randomArray } from './helpers.js';
import { ssdInputData, type SsdShape } from './ssd-inputs.js';

interface Case extends SsdShape {
  T: number;
  initial: boolean;
}

const CASES: Case[] = [
  { Bt: 2, L: 13, H: 4, P: 3, G: 2, N: 5, T: 4, initial: false }, // L = 3·4 + 1
  { Bt: 1, L: 10, H: 6, P: 2, G: 3, N: 4, T: 3, initial: true },
  { Bt: 2, L: 5, H: 2, P: 4, G: 1, N: 3, T: 8, initial: true }, // one chunk, shorter than T
  { Bt: 1, L: 16, H: 4, P: 2, G: 4, N: 2, T: 4, initial: false }, // a multiple of T, a group per head
];

type Run = (t: Record<string, Tensor>) => SsdResult;

/** Outputs, final state, and the gradient of Σ w₁·out + Σ w₂·state with respect to every input. */
async function evaluate(run: Run, c: Case, seed: number, device: DeviceName): Promise<{ out: Float32Array; state: Float32Array; grads: Map<string, Float32Array> }> {
  const ins = ssdInputData(c, seed);
  const names = Object.keys(ins).filter((k) => c.initial || k !== 'h0');
  const slots = new Map<string, GradSlot>();
  const ts: Record<string, Tensor> = {};
  for (const k of names) {
    const i = ins[k as keyof typeof ins];
    ts[k] = tensor(i.data, i.shape, { device });
    const slot: GradSlot = { grad: null };
    markLeaf(ts[k]!, slot);
    slots.set(k, slot);
  }
  const r = run(ts);
  const loss = tidy(() => {
    const w1 = tensor(randomArray(r.out.size, 90), r.out.shape, { device });
    const w2 = tensor(randomArray(r.lastState.size, 91), r.lastState.shape, { device });
    return add(sum(reshape(mul(r.out, w1), [1, r.out.size])), sum(reshape(mul(r.lastState, w2), [1, r.lastState.size])));
  });
  const out = Float32Array.from(await r.out.data());
  const state = Float32Array.from(await r.lastState.data());
  backward(loss);
  loss.dispose();
  r.out.dispose();
  r.lastState.dispose();
  const grads = new Map<string, Float32Array>();
  for (const [k, s] of slots) {
    assert.ok(s.grad, `${k} received a gradient`);
    grads.set(k, Float32Array.from(await s.grad.data()));
    s.grad.dispose();
  }
  for (const t of Object.values(ts)) t.dispose();
  return { out, state, grads };
}

const args = (t: Record<string, Tensor>) => [t['x']!, t['dt']!, t['A']!, t['B']!, t['C']!] as const;
const opts = (t: Record<string, Tensor>) => ({ D: t['D']!, initialState: t['h0'] ?? null });

for (const path of ['fused', 'composed'] as const) {
  test(`ssdChunked gradients agree with finite differences (CPU, ${path}), through chunk padding and the inter-chunk recurrence`, async () => {
    const check = async () => {
      const c: Case = { Bt: 1, L: 5, H: 2, P: 2, G: 1, N: 2, T: 2, initial: true };
      const ins = ssdInputData(c, 40);
      const order = ['x', 'dt', 'A', 'B', 'C', 'D', 'h0'] as const;
      const r = await gradcheck(
        (x, dt, A, B, C, D, h0) => {
          const o = ssdChunked(x!, dt!, A!, B!, C!, c.T, { D: D!, initialState: h0! });
          // Both outputs in one tensor: the last state's gradient is checked too.
          return add(sum(reshape(o.out, [1, o.out.size])), sum(reshape(mul(o.lastState, o.lastState), [1, o.lastState.size])));
        },
        order.map((k) => ins[k]),
        { h: 1e-2 },
      );
      assert.ok(r.maxError <= 1e-3 * Math.max(1, r.scale), `max error ${r.maxError} (scale ${r.scale}); worst ${r.worst}`);
    };
    await (path === 'composed' ? composed(check) : check());
  });
}


/** Runs fn with MAMBA_TS_SSD_BACKWARD=composed: a recorded ssdChunked then runs the composed chunked ops (the algorithm itself). */
async function composed<T>(fn: () => Promise<T>): Promise<T> {
  const before = process.env['MAMBA_TS_SSD_BACKWARD'];
  process.env['MAMBA_TS_SSD_BACKWARD'] = 'composed';
  try {
    return await fn();
  } finally {
    if (before === undefined) delete process.env['MAMBA_TS_SSD_BACKWARD'];
    else process.env['MAMBA_TS_SSD_BACKWARD'] = before;
  }
}

for (const device of await availableDevices()) {
  for (const [i, c] of CASES.entries()) {
    // The backend's fused pair where it has one (the CPU's recurrence, WebGPU's chunked kernels),
    // and the composed chunked ops.
    for (const path of ['fused', 'composed'] as const) {
      test(`ssdChunked (${path}) equals the sequential recurrence, forward and gradients: case ${i} on ${device} (${JSON.stringify(c)})`, async () => {
        const before = liveTensorCount();
        const seq = await evaluate((t) => ssdSequential(...args(t), opts(t)), c, 10 * i, device);
        const run = () => evaluate((t) => ssdChunked(...args(t), c.T, opts(t)), c, 10 * i, device);
        const chunked = path === 'composed' ? await composed(run) : await run();
        assertClose('out', chunked.out, seq.out, 1e-5);
        assertClose('last state', chunked.state, seq.state, 1e-5);
        for (const [k, g] of seq.grads) assertClose(`d/d${k}`, chunked.grads.get(k)!, g, 1e-4);
        assert.equal(liveTensorCount(), before);
      });
    }
  }

  test(`ssdStep continues a chunked prefix exactly as the whole sequence: ${device}`, async () => {
    const c: Case = { Bt: 2, L: 7, H: 4, P: 2, G: 2, N: 3, T: 4, initial: false };
    const ins = ssdInputData(c, 3);
    const t = Object.fromEntries(Object.entries(ins).map(([k, v]) => [k, tensor(v.data, v.shape, { device })])) as Record<string, Tensor>;
    const prefix = (v: Tensor) => slice(v, 1, 0, c.L - 1);
    const at = (v: Tensor, shape: number[]) => reshape(slice(v, 1, c.L - 1, 1), shape);
    const head = ssdChunked(prefix(t['x']!), prefix(t['dt']!), t['A']!, prefix(t['B']!), prefix(t['C']!), c.T, { D: t['D']! });
    const step = ssdStep(head.lastState, at(t['x']!, [c.Bt, c.H, c.P]), at(t['dt']!, [c.Bt, c.H]), t['A']!, at(t['B']!, [c.Bt, c.G, c.N]), at(t['C']!, [c.Bt, c.G, c.N]), t['D']!);
    const whole = ssdChunked(t['x']!, t['dt']!, t['A']!, t['B']!, t['C']!, c.T, { D: t['D']! });
    assertClose('last output', await step.out.data(), await at(whole.out, [c.Bt, c.H, c.P]).data(), 1e-5);
    assertClose('state', await step.state.data(), await whole.lastState.data(), 1e-5);
  });

  test(`ssdChunked refuses mismatched shapes with the argument named: ${device}`, () => {
    const x = tensor(new Float32Array(2 * 3 * 4 * 2), [2, 3, 4, 2], { device });
    const dt = tensor(new Float32Array(2 * 3 * 4), [2, 3, 4], { device });
    const A = tensor(new Float32Array(4), [4], { device });
    const B = tensor(new Float32Array(2 * 3 * 3 * 5), [2, 3, 3, 5], { device });
    assert.throws(() => ssdChunked(x, dt, A, B, B, 4), /groups of B and C must divide the 4 heads/);
    const Bok = tensor(new Float32Array(2 * 3 * 2 * 5), [2, 3, 2, 5], { device });
    assert.throws(() => ssdChunked(x, dt, A, Bok, B, 4), /C must be \[2, 3, 2, 5\]/);
    assert.throws(() => ssdChunked(x, dt, A, Bok, Bok, 0), /chunkSize must be an integer >= 1/);
    // One token: a B of another batch is named, not a reshape failing inside.
    const state = tensor(new Float32Array(2 * 4 * 2 * 5), [2, 4, 2, 5], { device });
    const x1 = tensor(new Float32Array(2 * 4 * 2), [2, 4, 2], { device });
    const dt1 = tensor(new Float32Array(2 * 4), [2, 4], { device });
    const B3 = tensor(new Float32Array(3 * 2 * 5), [3, 2, 5], { device });
    assert.throws(() => ssdStep(state, x1, dt1, A, B3, B3), /ssdStep: B has batch 3, x has 2/);
    for (const t of [x, dt, A, B, Bok, state, x1, dt1, B3]) t.dispose();
  });
}
