/**
 * The fused AdamW over all parameters (Backend.createFusedAdamW, the clip's scale on the device)
 * against the per-parameter update it replaces (clipGradNorm, then AdamW.update one parameter at
 * a time), on every backend present.
 *
 * CPU: the same bits, clip included (the fused version runs the same kernels).
 * WebGPU: without clipping each term is computed as the one-op-per-term update's elementwise
 * kernels compute it, with the same float32 constants, so the values agree (on lavapipe all of
 * them; only the sign of a zero may differ) unless a driver contracts a product and a sum into an
 * FMA in one kernel and not the other, hence 1e-6 of each array's largest value; with clipping the
 * same bound, since the norm is summed on the device in float32 in another order than the
 * per-tensor sums read back to the host.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Backend } from '../src/backend/backend.js';
import { getBackend, type DeviceName } from '../src/backend/registry.js';
import { Parameter } from '../src/nn/module.js';
import * as ops from '../src/ops/index.js';
import { AdamW, clipGradNorm } from '../src/train/adamw.js';
import { clipAndUpdate } from '../src/train/train-step.js';
import { availableDevices } from './devices.js';

/** Runs fn with the backend's fused AdamW hidden, so that the per-parameter update runs. */
async function perParameter<R>(device: DeviceName, fn: () => Promise<R>): Promise<R> {
  const b = getBackend(device) as Backend & { createFusedAdamW?: unknown };
  Object.defineProperty(b, 'createFusedAdamW', { value: undefined, configurable: true });
  try {
    return await fn();
  } finally {
    delete b.createFusedAdamW;
  }
}

function values(n: number, seed: number, spread: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out[i] = (s / 2147483648 - 0.5) * spread;
  }
  return out;
}

interface Run {
  arrays: Float32Array[];
  norms: number[];
}

/**
 * Four AdamW steps on three parameters (one decayed; `frozen` gets no gradient in steps 2 and 3),
 * clipping to maxNorm, through the shared step's clipAndUpdate; returns values, moments and norms.
 */
async function run(device: DeviceName, maxNorm: number): Promise<Run> {
  const shapes: [string, number[]][] = [['layer.weight', [37, 5]], ['layer.bias', [37]], ['frozen.weight', [300]]];
  const params = shapes.map(([, shape], k) => {
    const p = new Parameter(shape);
    p.set(ops.tensor(values(shape.reduce((a, b) => a * b), 1 + k, 2), shape, { device }));
    p.requiresGrad = true;
    return p;
  });
  const opt = new AdamW(shapes.map(([name], k) => [name, params[k]!]), { lr: 0.05, weightDecay: 0.1 });
  const norms: number[] = [];
  for (let step = 0; step < 4; step++) {
    params.forEach((p, k) => {
      if (k === 2 && (step === 1 || step === 2)) return;
      p.grad = ops.tensor(values(p.value.size, 10 * k + step, 3), [...p.shape], { device });
    });
    opt.lr = 0.05 / (step + 1);
    norms.push(await clipAndUpdate(opt, params, maxNorm));
  }
  const st = opt.state();
  const out = [...params.map((p) => p.value), ...shapes.flatMap(([name]) => [st.m.get(name)!, st.v.get(name)!])];
  const arrays = await Promise.all(out.map(async (t) => Float32Array.from((await t.data()) as Float32Array)));
  opt.dispose();
  for (const p of params) p.dispose();
  return { arrays, norms };
}

/** The per-parameter reference: clipGradNorm then AdamW.update, with the fused optimizer hidden. */
function reference(device: DeviceName, maxNorm: number): Promise<Run> {
  return perParameter(device, () => run(device, maxNorm));
}

const NAMES = ['weight', 'bias', 'frozen', 'm(weight)', 'v(weight)', 'm(bias)', 'v(bias)', 'm(frozen)', 'v(frozen)'];

for (const device of await availableDevices()) {
  test(`${device}: the fused AdamW updates as the per-parameter AdamW (no clipping: the same values)`, async () => {
    const fused = await run(device, 0);
    const ref = await reference(device, 0);
    // CPU: the same values. WebGPU: the same where the compiler contracts the fused kernel's
    // products and sums as it does the elementwise kernels' (lavapipe does: every value agrees);
    // WGSL lets a driver choose otherwise, so the test allows 1e-6 of each array's largest value.
    const exact = device === 'cpu';
    fused.arrays.forEach((a, k) => {
      const scale = ref.arrays[k]!.reduce((m, r) => Math.max(m, Math.abs(r)), 0);
      a.forEach((x, i) => assert.ok(exact ? x === ref.arrays[k]![i] : Math.abs(x - ref.arrays[k]![i]!) <= 1e-6 * scale, `${NAMES[k]}[${i}]: ${x} vs ${ref.arrays[k]![i]}`));
    });
    fused.norms.forEach((n, i) => assert.ok(Math.abs(n - ref.norms[i]!) <= 1e-6 * ref.norms[i]!, `norm ${i}: ${n} vs ${ref.norms[i]}`));
  });

  test(`${device}: the fused clip (scale computed on the device) as clipGradNorm`, async () => {
    const fused = await run(device, 4);
    const ref = await reference(device, 4);
    assert.ok(ref.norms.every((n) => n > 4), 'every step clipped');
    const exact = device === 'cpu';
    fused.arrays.forEach((a, k) => {
      const scale = ref.arrays[k]!.reduce((m, r) => Math.max(m, Math.abs(r)), 0);
      a.forEach((x, i) => assert.ok(exact ? x === ref.arrays[k]![i] : Math.abs(x - ref.arrays[k]![i]!) <= 1e-6 * scale, `${NAMES[k]}[${i}]: ${x} vs ${ref.arrays[k]![i]}`));
    });
    // The fused norm comes back as float32.
    fused.norms.forEach((n, i) => assert.ok(exact ? n === Math.fround(ref.norms[i]!) : Math.abs(n - ref.norms[i]!) <= 1e-6 * ref.norms[i]!, `norm ${i}: ${n} vs ${ref.norms[i]}`));
  });

  test(`${device}: a non-finite gradient norm updates nothing`, async () => {
    const p = new Parameter([3]);
    p.set(ops.tensor([1, 2, 3], [3], { device }));
    p.requiresGrad = true;
    const opt = new AdamW([['w', p]], { lr: 0.1 });
    p.grad = ops.tensor([0.5, NaN, 1], [3], { device });
    const norm = await clipAndUpdate(opt, [p], 1);
    assert.ok(Number.isNaN(norm));
    assert.equal(opt.step, 0);
    assert.deepEqual(Array.from((await p.value.data()) as Float32Array), [1, 2, 3]);
    assert.equal(p.grad, null, 'the gradients were cleared');
    opt.dispose();
    p.dispose();
  });

  test(`${device}: moments saved from the fused AdamW and loaded into another continue the same run`, async () => {
    const make = (seed: number) => {
      const p = new Parameter([50]);
      p.set(ops.tensor(values(50, seed, 2), [50], { device }));
      p.requiresGrad = true;
      return p;
    };
    const [a, b] = [make(1), make(1)];
    const optA = new AdamW([['w', a]], { lr: 0.05 });
    const step = async (opt: AdamW, p: Parameter, s: number) => {
      p.grad = ops.tensor(values(50, 40 + s, 3), [50], { device });
      await clipAndUpdate(opt, [p], 0);
    };
    for (let s = 0; s < 2; s++) await step(optA, a, s);
    const st = optA.state();
    const [m, v] = [st.m.get('w')!, st.v.get('w')!];
    const optB = new AdamW([['w', b]], { lr: 0.05 });
    b.set(ops.tensor((await a.value.data()) as Float32Array, [50], { device }));
    optB.loadState({ step: st.step, m: new Map([['w', ops.tensor((await m.data()) as Float32Array, [50], { device })]]), v: new Map([['w', ops.tensor((await v.data()) as Float32Array, [50], { device })]]) });
    await step(optA, a, 2);
    await step(optB, b, 2);
    assert.deepEqual(await b.value.data(), await a.value.data());
    for (const x of [optA, optB, a, b]) x.dispose();
  });
}

for (const device of await availableDevices()) {
  test(`${device}: the fused AdamW refuses parameters that do not fit its layout, and an apply before setScalars`, () => {
    const backend = getBackend(device);
    const fused = backend.createFusedAdamW!({ sizes: [4, 2], decay: [true, false], beta1: 0.9, beta2: 0.999, eps: 1e-8 })!;
    const [a, b, c] = [ops.zeros([4], { device }), ops.zeros([2], { device }), ops.zeros([3], { device })];
    assert.throws(() => fused.apply([a, b], [a, b], 1), /setScalars\(\) must come first/);
    fused.setScalars({ lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, correction1: 0.1, correction2: 0.001, decayFactor: 1 });
    assert.throws(() => fused.apply([a], [a], 1), /1 parameters and 1 gradients for a layout of 2/);
    assert.throws(() => fused.apply([a, c], [a, c], 1), /parameter 1 must be f32 of 2 elements/);
    assert.throws(() => fused.apply([a, b], [a, c], 1), /parameter 1 must be f32 of 2 elements with a gradient like it/);
    fused.dispose();
    for (const t of [a, b, c]) t.dispose();
  });
}

for (const device of await availableDevices()) {
  test(`${device}: the moments a checkpoint copied out (state()) are freed by the next step, not held until the next checkpoint`, async () => {
    const { liveTensorCount } = await import('../src/tensor/memory.js');
    const p = new Parameter([64]);
    p.set(ops.tensor(values(64, 5, 2), [64], { device }));
    p.requiresGrad = true;
    const opt = new AdamW([['w', p]], { lr: 0.01 });
    const step = async () => {
      p.grad = ops.tensor(values(64, 9, 1), [64], { device });
      await clipAndUpdate(opt, [p], 1);
    };
    await step();
    const before = liveTensorCount();
    const st = opt.state();
    assert.equal(st.m.size, 1);
    assert.equal(liveTensorCount(), before + 2, 'state() copies m and v out');
    await step();
    assert.equal(liveTensorCount(), before, 'the next step frees the copies');
    opt.dispose();
    p.dispose();
  });
}
