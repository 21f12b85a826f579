/**
 * The CPU's one-pass RMSNorm backward (CpuBackend.rmsNormBackward) against the gradients computed
 * in float64 here, and against the composed rule in ops/norm.ts (the same backward built from
 * elementwise ops, what runs where a backend has no fused one): dx and dw on rows of several widths
 * and lead shapes, large and tiny rows.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backward } from '../src/autograd/backward.js';
import { markLeaf, type GradSlot } from '../src/autograd/tape.js';
import type { CpuBackend } from '../src/backend/cpu/index.js';
import { getBackend } from '../src/backend/registry.js';
import * as ops from '../src/ops/index.js';
import { assertClose, randomArray } from './helpers.js';

function data(shape: number[], seed: number, scaleX: number) {
  const H = shape[shape.length - 1]!;
  const n = shape.reduce((a, b) => a * b, 1);
  return { H, n, x: randomArray(n, seed, -scaleX, scaleX), w: randomArray(H, seed + 1, 0.5, 1.5), g: randomArray(n, seed + 2, -1, 1) };
}

/** dx and dw of Σ g·rmsNorm(x, w) in float64. */
function reference(shape: number[], seed: number, scaleX: number): { dx: Float64Array; dw: Float64Array } {
  const { H, n, x, w, g } = data(shape, seed, scaleX);
  const dx = new Float64Array(n);
  const dw = new Float64Array(H);
  for (let o = 0; o < n; o += H) {
    let ss = 0;
    let ux = 0;
    for (let i = 0; i < H; i++) {
      ss += x[o + i]! * x[o + i]!;
      ux += g[o + i]! * w[i]! * x[o + i]!;
    }
    const r = 1 / Math.sqrt(ss / H + 1e-5);
    for (let i = 0; i < H; i++) {
      dx[o + i] = r * g[o + i]! * w[i]! - x[o + i]! * r ** 3 * (ux / H);
      dw[i] = dw[i]! + g[o + i]! * x[o + i]! * r;
    }
  }
  return { dx, dw };
}

function grads(shape: number[], seed: number, scaleX: number): { dx: Float32Array; dw: Float32Array } {
  const d = data(shape, seed, scaleX);
  const { H, n } = d;
  const x = ops.tensor(d.x, shape, { device: 'cpu' });
  const w = ops.tensor(d.w, [H], { device: 'cpu' });
  const gy = ops.tensor(d.g, shape, { device: 'cpu' });
  const sx: GradSlot = { grad: null };
  const sw: GradSlot = { grad: null };
  markLeaf(x, sx);
  markLeaf(w, sw);
  const y = ops.rmsNorm(x, w, 1e-5);
  const loss = ops.sum(ops.reshape(ops.mul(y, gy), [1, n]));
  backward(loss);
  const out = { dx: sx.grad!.dataSync() as Float32Array, dw: sw.grad!.dataSync() as Float32Array };
  for (const t of [x, w, gy, y, loss, sx.grad!, sw.grad!]) t.dispose();
  return out;
}

test('CPU rmsNorm backward in one pass equals the composed rule', () => {
  const cpu = getBackend('cpu') as CpuBackend;
  const original = cpu.rmsNormBackward.bind(cpu);
  const cases: [number[], number][] = [[[3, 8], 1], [[2, 5, 33], 1], [[1, 1], 1], [[4, 256], 100], [[7, 64], 1e-3]];
  for (const [i, [shape, scaleX]] of cases.entries()) {
    let ran = 0;
    cpu.rmsNormBackward = (...a) => {
      ran++;
      return original(...a);
    };
    const fused = grads(shape, 10 * i, scaleX);
    assert.equal(ran, 1, 'the one-pass backward ran');
    // Without the hook: ops/norm.ts composes the same gradients from elementwise ops.
    (cpu as { rmsNormBackward?: unknown }).rmsNormBackward = undefined;
    const composed = grads(shape, 10 * i, scaleX);
    cpu.rmsNormBackward = original;
    const want = reference(shape, 10 * i, scaleX);
    assertClose(`dx ${JSON.stringify(shape)}`, fused.dx, want.dx, 1e-6);
    assertClose(`dw ${JSON.stringify(shape)}`, fused.dw, want.dw, 1e-6);
    // The composed rule rounds each op to float32: a row of one element (dx ≈ 0 by cancellation)
    // is the loosest case.
    assertClose(`composed dx ${JSON.stringify(shape)}`, composed.dx, want.dx, 1e-3);
    assertClose(`composed dw ${JSON.stringify(shape)}`, composed.dw, want.dw, 1e-5);
  }
  cpu.rmsNormBackward = original;
});
