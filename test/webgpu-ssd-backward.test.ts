/**
 * WebGPU's fused chunked SSD backward (Backend.ssdChunkedBackward, kernels/ssd-backward.ts) against
 * the composed ops' gradients from the tape (MAMBA_TS_SSD_BACKWARD=composed): the gradients of x,
 * dt, A, B, C, D and the initial state within 1e-4 × max|ref|, with the loss reading the output and
 * the last state, for L not a multiple of the chunk, several heads per group and a group per head,
 * with and without D and an initial state, shapes spanning several blocks of the forward's kernels;
 * and a loss that does not read the last state. Also that the fused path actually ran (one node).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backward } from '../src/autograd/backward.js';
import { markLeaf, type GradSlot } from '../src/autograd/tape.js';
import { getBackend } from '../src/backend/registry.js';
import { add, mul, reshape, ssdChunked, sum, tensor } from '../src/ops/index.js';
import { liveTensorCount, tidy } from '../src/tensor/memory.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { availableDevices } from './devices.js';
import { assertClose, randomArray } from './helpers.js';
import { ssdInputData, type SsdInputData, type SsdShape } from './ssd-inputs.js';

interface Case extends SsdShape {
  T: number;
  initial: boolean;
  withD: boolean;
  /** Whether the loss reads the last state (else only the output). */
  useLast: boolean;
}

const CASES: Case[] = [
  { Bt: 2, L: 13, H: 4, P: 3, G: 2, N: 5, T: 4, initial: false, withD: true, useLast: true }, // L = 3·4 + 1
  { Bt: 1, L: 10, H: 6, P: 2, G: 3, N: 4, T: 3, initial: true, withD: false, useLast: true },
  { Bt: 2, L: 5, H: 2, P: 4, G: 1, N: 3, T: 8, initial: true, withD: true, useLast: false }, // one chunk
  { Bt: 1, L: 16, H: 4, P: 2, G: 4, N: 2, T: 4, initial: false, withD: false, useLast: false }, // a group per head
  // Several blocks of the forward's kernels: chunks of 40 (two row blocks), head dim 36, state 70.
  { Bt: 1, L: 75, H: 4, P: 36, G: 2, N: 70, T: 40, initial: true, withD: true, useLast: true },
];

const NAMES = ['x', 'dt', 'A', 'B', 'C', 'D', 'h0'] as const;

/** The case's inputs (D and h0 only where it has them). */
function inputData(c: Case, seed: number): Map<string, SsdInputData> {
  const d = ssdInputData(c, seed);
  return new Map(NAMES.filter((k) => (k !== 'D' || c.withD) && (k !== 'h0' || c.initial)).map((k) => [k, d[k]]));
}

/** Counts the fused backward's runs while `fn` runs. */
async function countingBackward<R>(fn: () => Promise<R>): Promise<{ result: R; ran: number }> {
  const backend = getBackend('webgpu');
  const original = backend.ssdChunkedBackward;
  assert.ok(original, 'the WebGPU backend has a fused SSD backward');
  let ran = 0;
  backend.ssdChunkedBackward = (...a) => {
    ran++;
    return original.apply(backend, a);
  };
  try {
    return { result: await fn(), ran };
  } finally {
    delete (backend as { ssdChunkedBackward?: unknown }).ssdChunkedBackward;
  }
}

/** Sets MAMBA_TS_SSD_BACKWARD (or another switch) for the duration of fn. */
async function withSwitch<R>(value: string | undefined, fn: () => Promise<R>, name = 'MAMBA_TS_SSD_BACKWARD'): Promise<R> {
  const before = process.env[name];
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
  try {
    return await fn();
  } finally {
    if (before === undefined) delete process.env[name];
    else process.env[name] = before;
  }
}

/** The gradients of Σ w₁·out (+ Σ w₂·last state) with respect to every input present. */
async function gradients(c: Case, seed: number): Promise<Map<string, Float32Array>> {
  const device = 'webgpu';
  const slots = new Map<string, GradSlot>();
  const ts = new Map<string, Tensor>();
  for (const [k, v] of inputData(c, seed)) {
    const t = tensor(v.data, v.shape, { device });
    const slot: GradSlot = { grad: null };
    markLeaf(t, slot);
    slots.set(k, slot);
    ts.set(k, t);
  }
  const r = ssdChunked(ts.get('x')!, ts.get('dt')!, ts.get('A')!, ts.get('B')!, ts.get('C')!, c.T, { D: ts.get('D') ?? null, initialState: ts.get('h0') ?? null });
  const loss = tidy(() => {
    const w1 = tensor(randomArray(r.out.size, 90), r.out.shape, { device });
    const fromOut = sum(reshape(mul(r.out, w1), [1, r.out.size]));
    if (!c.useLast) return fromOut;
    const w2 = tensor(randomArray(r.lastState.size, 91), r.lastState.shape, { device });
    return add(fromOut, sum(reshape(mul(r.lastState, w2), [1, r.lastState.size])));
  });
  backward(loss);
  for (const t of [loss, r.out, r.lastState, ...ts.values()]) t.dispose();
  const grads = new Map<string, Float32Array>();
  for (const k of NAMES) {
    const s = slots.get(k);
    if (!s) continue;
    assert.ok(s.grad, `${k} received a gradient`);
    grads.set(k, Float32Array.from(await s.grad.data()));
    s.grad.dispose();
  }
  return grads;
}

for (const [n, c] of CASES.entries()) {
  const name = `Bt=${c.Bt} L=${c.L} H=${c.H} P=${c.P} G=${c.G} N=${c.N} chunk=${c.T}${c.initial ? ', initial state' : ''}${c.withD ? ', D' : ''}${c.useLast ? ', last state in the loss' : ''}`;
  test(`WebGPU fused SSD backward equals the composed ops' gradients: ${name}`, async (t) => {
    if (!(await availableDevices()).includes('webgpu')) return t.skip('no WebGPU adapter');
    const before = liveTensorCount();
    const fused = await withSwitch(undefined, () => countingBackward(() => gradients(c, 10 * n + 3)));
    assert.equal(fused.ran, 1, 'the fused backward ran once');
    const composed = await withSwitch('composed', () => countingBackward(() => gradients(c, 10 * n + 3)));
    assert.equal(composed.ran, 0, 'MAMBA_TS_SSD_BACKWARD=composed kept the composed ops');
    assert.deepEqual([...fused.result.keys()], [...composed.result.keys()]);
    for (const [k, want] of composed.result) assertClose(`d/d${k}`, fused.result.get(k)!, want, 1e-4);
    // The backward reuses the forward's within-chunk sums and chunk states: also from v1's kernels
    // (MAMBA_TS_SSD_FWD=v1, and where v2's buffers do not fit).
    const fusedV1 = await withSwitch('v1', () => withSwitch(undefined, () => countingBackward(() => gradients(c, 10 * n + 3))), 'MAMBA_TS_SSD_FWD');
    assert.equal(fusedV1.ran, 1, 'the fused backward ran once after the v1 forward');
    for (const [k, want] of composed.result) assertClose(`d/d${k} (v1 forward)`, fusedV1.result.get(k)!, want, 1e-4);
    assert.equal(liveTensorCount(), before, 'no leaked tensors');
  });
}
