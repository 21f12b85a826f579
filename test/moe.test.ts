/**
 * The grouped SparseMoE (each expert runs only on its tokens) against its reference form (every
 * expert on every token, weighted), forward and every parameter's gradient, on every device; the
 * token-slots per expert; experts without tokens skipped.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { backward } from '../src/autograd/backward.js';
import { isRecording, markLeaf, noGrad, requiresGrad, type GradSlot } from '../src/autograd/tape.js';
import { expertFractions, expertFractionsFromCounts, SparseMoE } from '../src/nn/moe.js';
import * as ops from '../src/ops/index.js';
import { liveTensorCount, tidy } from '../src/tensor/memory.js';
import type { Tensor } from '../src/tensor/tensor.js';
import type { DeviceName } from '../src/backend/registry.js';
import { availableDevices } from './devices.js';
import { assertClose, randomArray } from './helpers.js';

function randomMoe(H: number, I: number, n: number, k: number, device: DeviceName, seed: number): SparseMoE {
  const moe = new SparseMoE(H, I, n, k);
  moe.namedParameters().forEach(([, p], i) => {
    const shape = p.shape;
    p.set(ops.tensor(randomArray(shape.reduce((a, b) => a * b, 1), seed + i, -0.5, 0.5), shape, { device }));
  });
  return moe;
}

/** Gradients of Σ w ⊙ out with respect to x and every parameter. */
async function grads(moe: SparseMoE, x: Tensor, w: Tensor, run: (x: Tensor) => Promise<Tensor>): Promise<Map<string, ArrayLike<number>>> {
  moe.requiresGrad_(true);
  const slot: GradSlot = { grad: null };
  markLeaf(x, slot);
  const out = await run(x);
  const loss = tidy(() => ops.sum(ops.reshape(ops.mul(out, w), [1, out.size])));
  backward(loss);
  const got = new Map<string, ArrayLike<number>>([['x', await slot.grad!.data()]]);
  for (const [name, p] of moe.namedParameters()) got.set(name, p.grad ? await p.grad.data() : new Float32Array(p.shape.reduce((a, b) => a * b, 1)));
  for (const t of [out, loss, slot.grad!]) t.dispose();
  moe.zeroGrad();
  moe.requiresGrad_(false);
  return got;
}

for (const device of await availableDevices())
describe(`SparseMoE on ${device}`, () => {
  const [B, L, H, I, n, k] = [2, 9, 12, 7, 6, 2];
  const xData = randomArray(B * L * H, 100, -2, 2);

  test('grouped forward equals the reference (every expert on every token), and counts token-slots per expert', async () => {
    const moe = randomMoe(H, I, n, k, device, 1);
    const x = ops.tensor(xData, [B, L, H], { device });
    const got = await moe.forward(x);
    const ref = tidy(() => moe.forwardDense(x));
    assert.deepEqual(got.out.shape, [B, L, H]);
    assertClose('out', await got.out.data(), await ref.out.data(), 1e-5);
    assertClose('routerLogits', await got.routerLogits.data(), await ref.routerLogits.data(), 1e-6);
    assert.equal(got.expertCounts.length, n);
    assert.equal(got.expertCounts.reduce((a, b) => a + b, 0), B * L * k);
    // The counts are those of the top-k of the router probabilities, recounted on the host.
    const p = (await tidy(() => ops.softmax(ref.routerLogits)).data()) as Float32Array;
    const want = new Array<number>(n).fill(0);
    for (let t = 0; t < B * L; t++) {
      const row = Array.from(p.subarray(t * n, (t + 1) * n)).map((v, e) => [v, e] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
      for (let j = 0; j < k; j++) want[row[j]![1]]!++;
    }
    assert.deepEqual(got.expertCounts, want);
    // A trainer's view: fractions of the routed token-slots, from the logits or from the counts.
    const fractions = await expertFractions([got.routerLogits, got.routerLogits], k);
    const fromCounts = expertFractionsFromCounts([got.expertCounts]);
    assert.deepEqual(fractions, [fromCounts[0], fromCounts[0]]);
    assert.deepEqual(fromCounts[0], want.map((c) => c / (B * L * k)));
    for (const t of [x, got.out, got.routerLogits, ref.out, ref.routerLogits]) t.dispose();
    moe.dispose();
  });

  test('gradients of the input and of every parameter (router included) equal the reference form', async () => {
    const moe = randomMoe(H, I, n, k, device, 2);
    const w = ops.tensor(randomArray(B * L * H, 7), [B, L, H], { device });
    const x1 = ops.tensor(xData, [B, L, H], { device });
    const grouped = await grads(moe, x1, w, async (x) => {
      const r = await moe.forward(x);
      r.routerLogits.dispose();
      return r.out;
    });
    const x2 = ops.tensor(xData, [B, L, H], { device });
    const dense = await grads(moe, x2, w, async (x) => tidy(() => moe.forwardDense(x).out));
    for (const [name, want] of dense) assertClose(`grad ${name}`, grouped.get(name)!, want, 1e-4);
    const routerGrad = grouped.get('router.weight')!;
    assert.ok(Array.from(routerGrad).some((v) => v !== 0), 'the router got no gradient');
    for (const t of [w, x1, x2]) t.dispose();
    moe.dispose();
  });

  test('experts that no token chose are skipped (no gradient reaches them) and nothing leaks', async () => {
    const moe = randomMoe(H, I, n, k, device, 3);
    // A router that always prefers experts 4 and 1 (by a wide margin) for these inputs.
    const bias = new Float32Array(n * H);
    for (let h = 0; h < H; h++) {
      bias[4 * H + h] = 2;
      bias[1 * H + h] = 1;
    }
    moe.router.weight.set(ops.tensor(bias, [n, H], { device }));
    const x = ops.tensor(new Float32Array(B * L * H).fill(1), [B, L, H], { device });
    const before = liveTensorCount();
    const r = await moe.forward(x);
    assert.deepEqual(r.expertCounts, [0, B * L, 0, 0, B * L, 0]);
    r.out.dispose();
    r.routerLogits.dispose();
    assert.equal(liveTensorCount(), before);
    const w = ops.tensor(randomArray(B * L * H, 8), [B, L, H], { device });
    const g = await grads(moe, x, w, async (xx) => {
      const o = await moe.forward(xx);
      o.routerLogits.dispose();
      return o.out;
    });
    assert.ok(Array.from(g.get('experts.0.up_proj.weight')!).every((v) => v === 0));
    assert.ok(Array.from(g.get('experts.4.up_proj.weight')!).some((v) => v !== 0));
    for (const t of [x, w]) t.dispose();
    moe.dispose();
  });

  test('run under noGrad, no stretch after the read-back is recorded', async () => {
    const moe = randomMoe(H, I, n, k, device, 4);
    moe.requiresGrad_(true);
    const x = ops.tensor(xData, [B, L, H], { device });
    const r = await noGrad(() => moe.forward(x));
    assert.ok(isRecording());
    assert.equal(requiresGrad(r.out), false);
    assert.equal(requiresGrad(r.routerLogits), false);
    for (const t of [x, r.out, r.routerLogits]) t.dispose();
    moe.requiresGrad_(false);
    moe.dispose();
  });
});
