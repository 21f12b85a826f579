/**
 * The sparse MoE decode step routed on the device (SparseMoE.forwardStep: router → softmax → top-k
 * → experts picked by device-side indices from stacked weights, nothing read back) against the
 * grouped forward that reads the routing back, and against the dense reference; f32 and bf16
 * expert weights; ties choose the lower expert as torch.topk. WebGPU only (the CPU keeps the host
 * path: forwardStep gives null there).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SparseMoE } from '../src/nn/moe.js';
import * as ops from '../src/ops/index.js';
import { halfTensor } from '../src/ops/create.js';
import { f32ToBf16 } from '../src/tensor/half.js';
import { liveTensorCount, tidy } from '../src/tensor/memory.js';
import type { DeviceName } from '../src/backend/registry.js';
import { availableDevices } from './devices.js';
import { assertClose, randomArray } from './helpers.js';

function randomMoe(H: number, I: number, n: number, k: number, device: DeviceName, seed: number, bf16 = false): SparseMoE {
  const moe = new SparseMoE(H, I, n, k);
  moe.namedParameters().forEach(([name, p], i) => {
    const size = p.shape.reduce((a, b) => a * b, 1);
    const data = randomArray(size, seed + i, -0.5, 0.5);
    const expert = name.startsWith('experts.');
    p.set(bf16 && expert ? halfTensor(f32ToBf16(data), p.shape, 'bf16', { device }) : ops.tensor(data, p.shape, { device }));
  });
  return moe;
}

async function hasWebgpu(t: { skip(reason: string): void }): Promise<boolean> {
  if ((await availableDevices()).includes('webgpu')) return true;
  t.skip('no WebGPU adapter');
  return false;
}

test('cpu: the device MoE step is absent (forward keeps the host routing)', () => {
  const moe = randomMoe(8, 6, 4, 2, 'cpu', 1);
  const x = ops.tensor(randomArray(2 * 8, 3), [2, 8]);
  assert.equal(tidy(() => moe.forwardStep(x, x)), null);
  x.dispose();
  moe.dispose();
});

for (const [T, H, I, n, k, bf16] of [
  [1, 12, 7, 6, 2, false],
  [5, 16, 9, 8, 2, false],
  [3, 12, 10, 5, 3, true],
  // More token slots (1200) than one launch takes (1024): two launches.
  [600, 8, 6, 4, 2, false],
] as const) {
  test(`webgpu: forwardStep equals residual + forward, ${T} tokens, ${n} experts, top-${k}${bf16 ? ', bf16 experts' : ''}`, async (t) => {
    if (!(await hasWebgpu(t))) return;
    const device = 'webgpu';
    const moe = randomMoe(H, I, n, k, device, 10 * T + n, bf16);
    const x = ops.tensor(randomArray(T * H, 7 + T, -2, 2), [T, H], { device });
    const res = ops.tensor(randomArray(T * H, 9 + T), [T, H], { device });
    const before = liveTensorCount();
    const got = tidy(() => moe.forwardStep(x, res));
    assert.ok(got, 'WebGPU has the device step');
    // The stacked weights (3 tensors) stay with the module; nothing else leaks.
    assert.equal(liveTensorCount(), before + 3 + 1);
    const host = await moe.forward(ops.reshape(x, [T, 1, H]));
    const want = tidy(() => ops.add(res, ops.reshape(host.out, [T, H])));
    assertClose('out vs grouped forward', await got.data(), await want.data(), 1e-5);
    const dense = tidy(() => ops.add(res, ops.reshape(moe.forwardDense(x).out, [T, H])));
    assertClose('out vs dense reference', await got.data(), await dense.data(), 1e-5);
    for (const tt of [got, host.out, host.routerLogits, want, dense, x, res]) tt.dispose();
    moe.dispose();
  });
}

test('webgpu: ties in the router choose the lower expert, as torch.topk', async (t) => {
  if (!(await hasWebgpu(t))) return;
  const device = 'webgpu';
  const [H, I, n, k] = [4, 5, 4, 2];
  const moe = randomMoe(H, I, n, k, device, 5);
  // A router whose rows 1, 2 and 3 are equal: every token ties between experts 1, 2, 3 below expert 0 or above it.
  const w = new Float32Array(n * H);
  for (let e = 1; e < n; e++) w.set([0.3, -0.2, 0.1, 0.4], e * H);
  w.set([-1, -1, -1, -1], 0);
  moe.router.weight.set(ops.tensor(w, [n, H], { device }));
  const x = ops.tensor(Float32Array.from([1, 0.5, 2, 1, -1, 0.25, 0.5, -2]), [2, H], { device });
  const zero = ops.zeros([2, H], { device });
  const got = tidy(() => moe.forwardStep(x, zero))!;
  // Expected: the experts 1 and 2 (the lower of the tied ones) when they beat expert 0.
  const dense = tidy(() => moe.forwardDense(x).out);
  assertClose('out', await got.data(), await dense.data(), 1e-5);
  const only12 = tidy(() => {
    const p = ops.softmax(ops.linear(x, moe.router.weight.value));
    const y1 = ops.mul(moe.experts[1]!.forward(x), ops.slice(p, 1, 1, 1));
    const y2 = ops.mul(moe.experts[2]!.forward(x), ops.slice(p, 1, 2, 1));
    return ops.add(y1, y2);
  });
  // Row 0 (x·r > 0 > x·r0): experts 1 and 2.
  assertClose('row 0 uses experts 1 and 2', (await got.data()).slice(0, H), (await only12.data()).slice(0, H), 1e-5);
  for (const tt of [got, dense, only12, x, zero]) tt.dispose();
  moe.dispose();
});

test('webgpu: the stacked experts follow weight updates', async (t) => {
  if (!(await hasWebgpu(t))) return;
  const device = 'webgpu';
  const moe = randomMoe(8, 6, 4, 2, device, 21);
  const x = ops.tensor(randomArray(3 * 8, 4), [3, 8], { device });
  const zero = ops.zeros([3, 8], { device });
  const first = moe.stackedExperts()!;
  assert.equal(moe.stackedExperts(), first, 'made once');
  moe.experts[2]!.up_proj.weight.set(ops.tensor(randomArray(6 * 8, 99), [6, 8], { device }));
  const got = tidy(() => moe.forwardStep(x, zero))!;
  const dense = tidy(() => moe.forwardDense(x).out);
  assertClose('out after an update', await got.data(), await dense.data(), 1e-5);
  for (const tt of [got, dense, x, zero]) tt.dispose();
  moe.dispose();
});

test('webgpu: while gradients are recorded through it, forwardStep declines (forward has the backward)', async (t) => {
  if (!(await hasWebgpu(t))) return;
  const device = 'webgpu';
  const moe = randomMoe(8, 6, 4, 2, device, 31);
  const x = ops.tensor(randomArray(2 * 8, 5), [2, 8], { device });
  moe.requiresGrad_(true);
  assert.equal(tidy(() => moe.forwardStep(x, x)), null);
  moe.requiresGrad_(false);
  const out = tidy(() => moe.forwardStep(x, x));
  assert.ok(out);
  out.dispose();
  x.dispose();
  moe.dispose();
});
