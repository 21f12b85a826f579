/**
 * The MambaMixer core (src/models/mambamixer): token and channel mixers against plain-loop
 * references on every device, the token mixer against the Mamba block it generalises, gradient
 * checks of the bidirectional scans, the channel mixer and the weighted averages (CPU), and the
 * backward on WebGPU against the CPU's.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import '../src/autograd/backward.js';
import { gradcheck } from '../src/autograd/gradcheck.js';
import { noGrad } from '../src/autograd/tape.js';
import type { DeviceName } from '../src/backend/registry.js';
import { ArgumentError } from '../src/errors.js';
import {
  BACKWARD_SCAN,
  DenseMixerAverages,
  FORWARD_SCAN,
  initSelectiveMixer,
  SelectiveChannelMixer,
  SelectiveMixer,
  SelectiveTokenMixer,
  WeightedAverage,
} from '../src/models/mambamixer/index.js';
import { MambaMixer } from '../src/nn/mamba-mixer.js';
import * as ops from '../src/ops/index.js';
import { RandomSource } from '../src/ops/random.js';
import { liveTensorCount, tidy } from '../src/tensor/memory.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { availableDevices } from './devices.js';
import { assertClose, randomArray } from './helpers.js';
import { mixerRef, type BranchRef } from './mixer-reference.js';
import { paramGradcheck } from './module-gradcheck.js';

async function values(m: SelectiveMixer): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [n, p] of m.namedParameters()) out.set(n, (await p.value.data()) as Float32Array);
  return out;
}

function refParams(v: Map<string, Float32Array>, branches: number): { inProj: Float32Array; outProj: Float32Array; branches: BranchRef[] } {
  const g = (n: string) => v.get(n)!;
  return {
    inProj: g('in_proj.weight'),
    outProj: g('out_proj.weight'),
    branches: Array.from({ length: branches }, (_, k) => ({
      convW: g(`branches.${k}.conv1d.weight`),
      convB: g(`branches.${k}.conv1d.bias`),
      xProj: g(`branches.${k}.x_proj.weight`),
      dtProjW: g(`branches.${k}.dt_proj.weight`),
      dtProjB: g(`branches.${k}.dt_proj.bias`),
      Alog: g(`branches.${k}.A_log`),
      D: g(`branches.${k}.D`),
    })),
  };
}

function transposeBTD(x: ArrayLike<number>, B: number, T: number, D: number): Float64Array {
  const y = new Float64Array(B * T * D);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let d = 0; d < D; d++) y[(b * D + d) * T + t] = x[(b * T + t) * D + d]!;
  return y;
}

for (const device of await availableDevices()) {
  describe(`MambaMixer core on ${device}`, () => {
    test('the token mixer (one forward scan) matches its plain-loop reference', async () => {
      const [B, T, D] = [2, 11, 8];
      const m = new SelectiveTokenMixer({ dModel: D, dState: 4, expand: 2 });
      initSelectiveMixer(m, new RandomSource(3), { device });
      const x = randomArray(B * T * D, 4);
      const got = await noGrad(() => m.forward(ops.tensor(x, [B, T, D], { device }))).data();
      const want = mixerRef(x, B, T, D, { E: 16, N: 4, R: 1, K: 4 }, refParams(await values(m), 1), ['f']);
      assertClose('token mixer', got, want, 2e-5);
      m.dispose();
    });

    test('the channel mixer (both directions over D, features = the L tokens) matches its reference', async () => {
      const [B, L, D] = [2, 6, 9];
      const m = new SelectiveChannelMixer({ tokens: L, dState: 3, expand: 2, dtRank: 2 });
      initSelectiveMixer(m, new RandomSource(5), { device });
      const x = randomArray(B * L * D, 6);
      const xt = ops.tensor(x, [B, L, D], { device });
      const before = liveTensorCount();
      const y = noGrad(() => m.forward(xt));
      assert.deepEqual(y.shape, [B, L, D]);
      const got = await y.data();
      y.dispose();
      assert.equal(liveTensorCount(), before, 'forward left tensors behind');
      xt.dispose();
      // The reference runs the mixer over xᵀ (B, D, L) and transposes back.
      const yt = mixerRef(transposeBTD(x, B, L, D), B, D, L, { E: 12, N: 3, R: 2, K: 4 }, refParams(await values(m), 2), ['f', 'b']);
      assertClose('channel mixer', got, transposeBTD(yt, B, D, L), 2e-5);
      m.dispose();
    });

    test('the token mixer equals the Mamba block (nn/MambaMixer) with the same weights', async () => {
      const [B, T, D] = [2, 7, 16];
      const t = new SelectiveTokenMixer({ dModel: D });
      initSelectiveMixer(t, new RandomSource(8), { device });
      const mm = new MambaMixer({ hiddenSize: D, intermediateSize: 32, stateSize: 16, convKernel: 4, dtRank: 1, useBias: false, useConvBias: true, selective: true });
      const mine = new Map(t.namedParameters().map(([n, p]) => [n.replace('branches.0.', ''), p]));
      for (const [n, p] of mm.namedParameters()) p.set(ops.tensor(await mine.get(n)!.value.data(), p.shape, { device }));
      const x = ops.tensor(randomArray(B * T * D, 9), [B, T, D], { device });
      const a = await noGrad(() => t.forward(x)).data();
      const b = await noGrad(() => mm.forward(x).out).data();
      assertClose('token mixer vs MambaMixer', a, b, 1e-6);
      t.dispose();
      mm.dispose();
      x.dispose();
    });
  });
}

describe('MambaMixer core gradients equal finite differences (CPU)', () => {
  const tol = (r: { maxError: number; scale: number; worst: string }, name: string) =>
    assert.ok(r.maxError <= 1e-2 * Math.max(1, r.scale), `${name}: max error ${r.maxError} (scale ${r.scale}); worst ${r.worst}`);

  test('bidirectional scans (forward + flipped branch): input gradient', async () => {
    const m = new SelectiveMixer({ dModel: 4, dState: 3, expand: 2, scans: [FORWARD_SCAN, BACKWARD_SCAN] });
    initSelectiveMixer(m, new RandomSource(11));
    tol(await gradcheck((x) => m.forward(x!), [{ data: randomArray(2 * 5 * 4, 12), shape: [2, 5, 4] }]), 'bidirectional mixer dx');
    m.dispose();
  });

  test('bidirectional scans: every parameter of both branches', async () => {
    const m = new SelectiveMixer({ dModel: 4, dState: 3, expand: 2, scans: [FORWARD_SCAN, BACKWARD_SCAN] });
    initSelectiveMixer(m, new RandomSource(13));
    const x = ops.tensor(randomArray(2 * 5 * 4, 14), [2, 5, 4]);
    const r = await paramGradcheck(m, () => m.forward(x));
    assert.ok(r.checked >= 40);
    tol(r, 'bidirectional mixer parameters');
    x.dispose();
    m.dispose();
  });

  test('channel mixer: input and every parameter', async () => {
    const m = new SelectiveChannelMixer({ tokens: 3, dState: 2, expand: 2 });
    initSelectiveMixer(m, new RandomSource(15));
    tol(await gradcheck((x) => m.forward(x!), [{ data: randomArray(2 * 3 * 5, 16), shape: [2, 3, 5] }]), 'channel mixer dx');
    const x = ops.tensor(randomArray(2 * 3 * 5, 17), [2, 3, 5]);
    tol(await paramGradcheck(m, () => m.forward(x)), 'channel mixer parameters');
    x.dispose();
    m.dispose();
  });

  test('weighted average: the scalars and every input', async () => {
    const w = new WeightedAverage(3);
    w.weight.set(ops.tensor([0.5, -1.25, 2], [3]));
    const shape = [2, 3, 2];
    const inputs = [20, 21, 22].map((s) => ({ data: randomArray(12, s), shape }));
    tol(await gradcheck((a, b, c) => w.forward([a!, b!, c!]), inputs), 'weighted average inputs');
    const xs = inputs.map((i) => ops.tensor(i.data, i.shape));
    tol(await paramGradcheck(w, () => w.forward(xs)), 'weighted average scalars');
    xs.forEach((x) => x.dispose());
    w.dispose();
  });

  test('dense averages over a 2-layer stack: every α, β, θ, γ', async () => {
    const avg = new DenseMixerAverages(2);
    avg.initIdentity();
    for (const [, p] of avg.namedParameters()) p.set(ops.tensor(randomArray(p.shape[0]!, p.shape[0]!, -1, 1), p.shape));
    const x = ops.tensor(randomArray(6, 30), [2, 3]);
    const run = () => avg.run(x, (l, v) => ops.tanh(ops.affine(v, 1 + l, 0.1)), (l, v) => ops.mul(v, ops.sigmoid(ops.affine(v, 0.5, l)))).out;
    const r = await paramGradcheck(avg, run, { perParam: 10 });
    assert.equal(r.checked, 2 * (2 * 2 + 3)); // 𝓛(2𝓛+3) scalars, all checked
    tol(r, 'dense averages');
    x.dispose();
    avg.dispose();
  });
});

describe('MambaMixer core: structure and errors', () => {
  test('identity-initialised dense averages make the stack a plain token → channel alternation', async () => {
    const avg = new DenseMixerAverages(3);
    avg.initIdentity();
    assert.equal(avg.parameterCount(), 3 * (2 * 3 + 3));
    const x = ops.tensor(randomArray(8, 40), [2, 4]);
    const tok = (l: number, v: Tensor) => ops.affine(ops.tanh(v), 1, l);
    const ch = (l: number, v: Tensor) => ops.affine(ops.sigmoid(v), 2, -l);
    const got = await tidy(() => avg.run(x, tok, ch).out).data();
    let want = x;
    const want2 = tidy(() => {
      for (let l = 0; l < 3; l++) want = ch(l, tok(l, want));
      return want;
    });
    assertClose('stack at identity', got, await want2.data(), 1e-6);
    x.dispose();
    want2.dispose();
    avg.dispose();
  });

  test('bad options and inputs are refused by name', () => {
    assert.throws(() => new SelectiveTokenMixer({ dModel: 0 }), (e: Error) => e instanceof ArgumentError && /SelectiveTokenMixer: option dModel/.test(e.message));
    assert.throws(() => new SelectiveMixer({ dModel: 4, scans: [] }), /at least one scan order/);
    const m = new SelectiveChannelMixer({ tokens: 5 });
    initSelectiveMixer(m, new RandomSource(1));
    assert.throws(() => m.forward(ops.tensor(new Float32Array(12), [1, 4, 3])), /SelectiveChannelMixer: input must be \(B, L=5, D\)/);
    m.dispose();
    const w = new WeightedAverage(2);
    w.initIdentity(0);
    assert.throws(() => w.forward([ops.zeros([2]), ops.zeros([3])]), /share one shape/);
    w.dispose();
  });
});

// The WebGPU backward of the channel mixer equals the CPU's.
if ((await availableDevices()).includes('webgpu')) {
  test('channel mixer gradients on WebGPU equal the CPU gradients', async () => {
    const grads = async (device: DeviceName) => {
      const m = new SelectiveChannelMixer({ tokens: 6, dState: 4 });
      initSelectiveMixer(m, new RandomSource(21), { device });
      m.requiresGrad_(true);
      const x = ops.tensor(randomArray(3 * 6 * 5, 22), [3, 6, 5], { device });
      const loss = tidy(() => ops.sum(ops.reshape(ops.mul(m.forward(x), m.forward(x)), [1, 90])));
      loss.backward();
      loss.dispose();
      const out = new Map<string, Float32Array>();
      for (const [n, p] of m.namedParameters()) out.set(n, (await p.grad!.data()) as Float32Array);
      x.dispose();
      m.dispose();
      return out;
    };
    const cpu = await grads('cpu');
    const gpu = await grads('webgpu');
    for (const [n, g] of cpu) assertClose(`grad ${n}`, gpu.get(n)!, g, 1e-4);
  });
}
