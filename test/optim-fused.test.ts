// The CPU's in-place optimizer kernels against the one-op-per-term updates they replace.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Backend } from '../src/backend/backend.js';
import { adamwKernel } from '../src/backend/cpu/optim.js';
import { cpuKernelInfo, getBackend, setCpuThreads } from '../src/backend/registry.js';
import { Parameter } from '../src/nn/module.js';
import * as ops from '../src/ops/index.js';
import { AdamW, clipGradNorm } from '../src/train/adamw.js';

type Fused = 'adamwUpdate' | 'sumOfSquares' | 'scaleInPlace' | 'createFusedAdamW';
const FUSED: Fused[] = ['adamwUpdate', 'sumOfSquares', 'scaleInPlace', 'createFusedAdamW'];

/** Runs fn with the backend's fused optimizer kernels hidden, so the composite path runs. */
async function composite<R>(fn: () => Promise<R>): Promise<R> {
  const b = getBackend('cpu') as Backend & Record<Fused, unknown>;
  for (const k of FUSED) Object.defineProperty(b, k, { value: undefined, configurable: true });
  try {
    return await fn();
  } finally {
    for (const k of FUSED) delete b[k];
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

/**
 * Three AdamW steps on two parameters, one decayed, clipping the gradients to `maxNorm`; returns
 * the values, the moments and the norms.
 */
async function run(maxNorm: number): Promise<Float32Array[]> {
  const w = new Parameter([37, 5]);
  const bias = new Parameter([37]);
  w.set(ops.tensor(values(185, 1, 2), [37, 5]));
  bias.set(ops.tensor(values(37, 2, 2), [37]));
  w.requiresGrad = bias.requiresGrad = true;
  const opt = new AdamW([['layer.weight', w], ['layer.bias', bias]], { lr: 0.05, weightDecay: 0.1 });
  const norms: number[] = [];
  for (let step = 0; step < 3; step++) {
    w.grad = ops.tensor(values(185, 10 + step, 3), [37, 5]);
    bias.grad = ops.tensor(values(37, 20 + step, 3), [37]);
    norms.push(await clipGradNorm([w, bias], maxNorm));
    opt.update();
    w.zeroGrad();
    bias.zeroGrad();
  }
  const st = opt.state();
  const out = [w.value, bias.value, st.m.get('layer.weight')!, st.v.get('layer.weight')!, st.m.get('layer.bias')!, st.v.get('layer.bias')!];
  const arrays = await Promise.all(out.map(async (t) => (await t.data()) as Float32Array));
  opt.dispose();
  w.dispose();
  bias.dispose();
  return [...arrays, Float32Array.from(norms)];
}

test('fused AdamW gives the bits of the one-op-per-term update', async () => {
  assert.ok(getBackend('cpu').adamwUpdate, 'the CPU backend has the fused update');
  const fused = await run(1e9);
  const reference = await composite(() => run(1e9));
  const names = ['weight', 'bias', 'm(weight)', 'v(weight)', 'm(bias)', 'v(bias)'];
  names.forEach((name, i) => assert.deepEqual(fused[i], reference[i], name));
});

test('fused clipGradNorm: the norm and the clipped update within 1e-6 relative', async () => {
  // The one-pass norm sums in double precision throughout (the ops round per tensor to float32).
  const fused = await run(4);
  const reference = await composite(() => run(4));
  assert.ok(fused[6]![0]! > 4, 'the gradients were clipped');
  // Relative to each array's largest value: a moment that nearly cancels has no relative accuracy.
  fused.forEach((a, k) => {
    const scale = reference[k]!.reduce((m, r) => Math.max(m, Math.abs(r)), 0);
    a.forEach((x, i) => assert.ok(Math.abs(x - reference[k]![i]!) <= 1e-6 * scale, `array ${k}[${i}]: ${x} vs ${reference[k]![i]}`));
  });
});

test('an in-place update refreshes caches keyed on the parameter version', () => {
  const p = new Parameter([2]);
  p.set(ops.tensor([1, 2], [2]));
  p.requiresGrad = true;
  p.grad = ops.tensor([0.5, -0.5], [2]);
  const v0 = p.version;
  const opt = new AdamW([['w', p]], { lr: 0.1 });
  opt.update();
  assert.equal(p.version, v0 + 1);
  opt.dispose();
  p.dispose();
});

test('the WebAssembly AdamW equals the TypeScript kernel bit for bit, on 1 and 3 threads, over several tiles', async () => {
  const threadsBefore = cpuKernelInfo().threads;
  const n = 200_003; // four tiles of 65536 and a tail that is not a multiple of 4
  const h = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, correction1: 1 - 0.9 ** 3, correction2: 1 - 0.999 ** 3, decayFactor: 1 - 0.01 * 0.1 };
  const start = [values(n, 5, 2), values(n, 6, 0.1), values(n, 7, 0.01), values(n, 8, 1e-4).map(Math.abs)];
  const ts = start.map((a) => a.slice());
  adamwKernel(ts[0]!, ts[1]!, ts[2]!, ts[3]!, h);
  for (const threads of [1, 3]) {
    setCpuThreads(threads);
    const [p, g, m, v] = start.map((a) => ops.tensor(a, [n]));
    getBackend('cpu').adamwUpdate!(p!, g!, m!, v!, h);
    assert.deepEqual(await p!.data(), ts[0], `p, ${threads} threads`);
    assert.deepEqual(await m!.data(), ts[2], `m, ${threads} threads`);
    assert.deepEqual(await v!.data(), ts[3], `v, ${threads} threads`);
    for (const t of [p, g, m, v]) t!.dispose();
  }
  setCpuThreads(threadsBefore);
});
