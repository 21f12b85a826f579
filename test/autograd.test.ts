/** Every op's backward rule against central finite differences, and the tape's behaviour. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { backward } from '../src/autograd/backward.js';
import { gradcheck } from '../src/autograd/gradcheck.js';
import { markLeaf, noGrad, requiresGrad, type GradSlot } from '../src/autograd/tape.js';
import { Linear } from '../src/nn/layers.js';
import * as ops from '../src/ops/index.js';
import { liveTensorCount, tidy } from '../src/tensor/memory.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { randomArray } from './helpers.js';

const input = (shape: number[], seed: number, lo = -1, hi = 1) => ({ data: randomArray(shape.reduce((p, q) => p * q, 1), seed, lo, hi), shape });

async function check(name: string, f: (...xs: Tensor[]) => Tensor, inputs: { data: Float32Array; shape: number[] }[], tol = 1e-2): Promise<void> {
  const r = await gradcheck(f, inputs);
  assert.ok(r.maxError <= tol * Math.max(1, r.scale), `${name}: max error ${r.maxError} (scale ${r.scale}); worst ${r.worst}`);
}

describe('backward rules equal finite differences (CPU)', () => {
  const cases: [string, (...xs: Tensor[]) => Tensor, { data: Float32Array; shape: number[] }[]][] = [
    ['add with broadcasting', (a, b) => ops.add(a!, b!), [input([2, 3, 4], 1), input([3, 1], 2)]],
    ['sub', (a, b) => ops.sub(a!, b!), [input([3, 4], 3), input([4], 4)]],
    ['mul with broadcasting', (a, b) => ops.mul(a!, b!), [input([2, 1, 4], 5), input([3, 4], 6)]],
    ['div', (a, b) => ops.div(a!, b!), [input([3, 4], 7), input([3, 4], 8, 0.5, 2)]],
    ['neg', (a) => ops.neg(a!), [input([5], 9)]],
    ['exp', (a) => ops.exp(a!), [input([6], 10)]],
    ['log', (a) => ops.log(a!), [input([6], 11, 0.5, 3)]],
    ['sqrt', (a) => ops.sqrt(a!), [input([6], 12, 0.5, 3)]],
    ['rsqrt', (a) => ops.rsqrt(a!), [input([6], 13, 0.5, 3)]],
    ['sigmoid', (a) => ops.sigmoid(a!), [input([6], 14, -3, 3)]],
    ['tanh', (a) => ops.tanh(a!), [input([6], 15, -2, 2)]],
    ['silu', (a) => ops.silu(a!), [input([8], 16, -4, 4)]],
    ['softplus', (a) => ops.softplus(a!), [input([8], 17, -4, 4)]],
    ['affine', (a) => ops.affine(a!, -1.5, 0.25), [input([4], 18)]],
    ['matmul', (a, b) => ops.matmul(a!, b!), [input([3, 4], 19), input([4, 5], 20)]],
    ['matmul transA transB', (a, b) => ops.matmul(a!, b!, { transA: true, transB: true }), [input([4, 3], 21), input([5, 4], 22)]],
    ['matmul batched with a broadcast operand', (a, b) => ops.matmul(a!, b!, { transB: true }), [input([2, 3, 4], 23), input([5, 4], 24)]],
    ['linear with bias', (x, w, b) => ops.linear(x!, w!, b!), [input([2, 3, 4], 25), input([6, 4], 26), input([6], 27)]],
    ['reshape', (a) => ops.reshape(ops.mul(a!, a!), [4, 3]), [input([2, 6], 28)]],
    ['slice', (a) => ops.slice(a!, 1, 1, 2), [input([2, 4, 3], 29)]],
    ['split and concat', (a) => { const [p, q] = ops.split(a!, [1, 3], 1); return ops.concat([ops.mul(q!, q!), p!], 1); }, [input([2, 4], 30)]],
    // One piece unused (its gradient is zeros) and one empty: split's backward is one concat.
    ['split with an unused piece and an empty one', (a) => { const [, e, q] = ops.split(a!, [1, 0, 3], 1); return ops.mul(ops.concat([q!, e!], 1), q!); }, [input([2, 4], 38)]],
    ['transpose', (a) => ops.transpose(a!, [2, 0, 1]), [input([2, 3, 4], 31)]],
    ['flip', (a) => ops.mul(ops.flip(a!, 1), a!), [input([2, 3, 4], 37)]],
    ['sum', (a) => ops.sum(a!), [input([3, 5], 32)]],
    // Weighted so that the gradient is not the trivial zero of Σ softmax = 1.
    ['softmax', (a, w) => ops.mul(ops.softmax(a!), w!), [input([3, 5], 35, -2, 2), input([5], 36)]],
    [
      'selectiveScan (every input, the output and the last state)',
      (u, delta, A, B, C, D, z, bias, h0) => {
        const r = ops.selectiveScan(u!, delta!, A!, B!, C!, { D: D!, z: z!, deltaBias: bias!, deltaSoftplus: true, initialState: h0! });
        return ops.concat([ops.reshape(r.out, [-1]), ops.reshape(r.lastState, [-1])], 0);
      },
      [input([2, 5, 3], 40), input([2, 5, 3], 41, -2, 1), input([3, 4], 42, -1.5, -0.2), input([2, 5, 4], 43), input([2, 5, 4], 44),
        input([3], 45), input([2, 5, 3], 46), input([3], 47, -1, 0), input([2, 3, 4], 48)],
    ],
    [
      'causalConv1d with silu (input, weight, bias, state; output and new state)',
      (x, w, b, st) => {
        const r = ops.causalConv1d(x!, w!, b!, { silu: true, state: st! });
        return ops.concat([ops.reshape(r.out, [-1]), ops.reshape(r.state, [-1])], 0);
      },
      [input([2, 5, 3], 50), input([3, 4], 51), input([3], 52), input([2, 3, 3], 53)],
    ],
    ['rmsNorm (input and weight)', (x, w) => ops.rmsNorm(x!, w!, 1e-5), [input([3, 8], 33, -2, 2), input([8], 34, 0.5, 1.5)]],
  ];
  for (const [name, f, inputs] of cases) test(name, () => check(name, f, inputs));
});

describe('the tape', () => {
  test('parameters accumulate gradients until zeroGrad, and nothing leaks', async () => {
    const lin = new Linear(3, 2, true);
    lin.weight.set(ops.tensor([1, 2, 3, 4, 5, 6], [2, 3]));
    lin.bias!.set(ops.tensor([0.5, -0.5], [2]));
    lin.requiresGrad_(true);
    const before = liveTensorCount();
    for (let i = 0; i < 2; i++) {
      const loss = tidy(() => ops.sum(ops.reshape(lin.forward(ops.tensor([1, 1, 1], [1, 3])), [1, 2])));
      loss.backward();
      loss.dispose();
    }
    // d(sum(W·x + b))/dW = x for each row, twice.
    assert.deepEqual(Array.from(await lin.weight.grad!.data()), [2, 2, 2, 2, 2, 2]);
    assert.deepEqual(Array.from(await lin.bias!.grad!.data()), [2, 2]);
    assert.equal(liveTensorCount(), before + 2, 'only the two .grad tensors remain');
    lin.zeroGrad();
    assert.equal(lin.weight.grad, null);
    assert.equal(liveTensorCount(), before);
    lin.dispose();
  });

  test('noGrad records nothing, and parameters do not require gradients by default', () => {
    const lin = new Linear(2, 2, false);
    lin.weight.set(ops.tensor([1, 0, 0, 1], [2, 2]));
    const y = lin.forward(ops.tensor([1, 2], [1, 2]));
    assert.equal(requiresGrad(y), false);
    lin.requiresGrad_(true);
    const z = noGrad(() => lin.forward(ops.tensor([1, 2], [1, 2])));
    assert.equal(requiresGrad(z), false);
    assert.throws(() => backward(z), /does not require a gradient/);
    lin.dispose();
  });

  test('an op without a backward rule refuses to run on tensors that need gradients', () => {
    const slot: GradSlot = { grad: null };
    const x = ops.tensor([1, 2, 3], [1, 3]);
    markLeaf(x, slot);
    assert.throws(() => ops.max(x), /max: no backward rule yet/);
    assert.doesNotThrow(() => noGrad(() => ops.max(x)).dispose());
  });
});

test('generate records nothing even when parameters require gradients', async () => {
  const { MambaForCausalLM } = await import('../src/models/mamba/modeling.js');
  const { fixture } = await import('./helpers.js');
  const model = await MambaForCausalLM.fromPretrained(fixture('hf', 'mamba-tiny', 'model'));
  await model.generate([[1, 2, 3]], { maxNewTokens: 2 }); // warm caches
  model.requiresGrad_(true);
  const before = liveTensorCount();
  await model.generate([[1, 2, 3]], { maxNewTokens: 4 });
  await model.generate([[1, 2, 3]], { maxNewTokens: 4, doSample: true, seed: 1 });
  assert.equal(liveTensorCount(), before);
  model.dispose();
});

test('gradients accumulate: two half-batches with losses scaled by ½ equal one full batch', async () => {
  const { MambaForCausalLM } = await import('../src/models/mamba/modeling.js');
  const { fixture, assertClose } = await import('./helpers.js');
  const model = await MambaForCausalLM.fromPretrained(fixture('hf', 'mamba-tiny', 'model'));
  model.requiresGrad_(true);
  const batch = [[1, 5, 9, 13, 17, 21], [2, 6, 10, 14, 18, 22], [3, 7, 11, 15, 19, 23], [4, 8, 12, 16, 20, 24]];
  const run = async (b: number[][], s: number) => {
    const out = await model.forward(b, { labels: b });
    const l = ops.scale(out.loss!, s);
    l.backward();
    l.dispose();
    out.loss!.dispose();
    out.logits.dispose();
  };
  await run(batch, 1);
  const full = new Map<string, Float32Array>();
  for (const [n, p] of model.namedParameters()) full.set(n, (await p.grad!.data()) as Float32Array);
  model.zeroGrad();
  await run(batch.slice(0, 2), 0.5);
  await run(batch.slice(2), 0.5);
  for (const [n, p] of model.namedParameters()) assertClose(`accumulated ${n}`, await p.grad!.data(), full.get(n)!, 1e-5);
  model.zeroGrad();
  model.dispose();
});

test('releaseGraph frees what a forward pass saved when no backward follows', async () => {
  const { releaseGraph } = await import('../src/autograd/tape.js');
  const lin = new Linear(4, 4, true);
  lin.weight.set(ops.tensor(new Float32Array(16).fill(0.1), [4, 4]));
  lin.bias!.set(ops.tensor(new Float32Array(4), [4]));
  lin.requiresGrad_(true);
  const before = liveTensorCount();
  const y = tidy(() => ops.silu(lin.forward(ops.tensor([1, 2, 3, 4], [1, 4]))));
  assert.ok(liveTensorCount() > before + 1, 'the tape holds saved tensors');
  releaseGraph(y);
  y.dispose();
  assert.equal(liveTensorCount(), before);
  lin.dispose();
});

test('requiresGrad_(false) after training stops recording: a forward keeps no graph and leaks nothing', () => {
  const lin = new Linear(4, 3, true);
  lin.weight.set(ops.tensor(randomArray(12, 1), [3, 4]));
  lin.bias!.set(ops.tensor(randomArray(3, 2), [3]));
  lin.requiresGrad_(true);
  const x = ops.tensor(randomArray(8, 3), [2, 4]);
  const loss = ops.sum(ops.reshape(lin.forward(x), [6]));
  backward(loss);
  loss.dispose();
  assert.ok(lin.weight.grad, 'trained: the weight got a gradient');
  lin.zeroGrad();
  lin.requiresGrad_(false);
  assert.equal(requiresGrad(lin.weight.value), false, 'the weight is no longer a leaf of the tape');
  const before = liveTensorCount();
  const y = lin.forward(x); // not under noGrad
  assert.equal(requiresGrad(y), false, 'the output records nothing');
  y.dispose();
  assert.equal(liveTensorCount(), before, 'nothing kept for a backward that will not come');
  x.dispose();
  lin.dispose();
});
