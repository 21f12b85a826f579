/**
 * The ops the vision model (ViM2) adds: flip and the channels-last depthwise conv2d, on every
 * device against plain reference loops, their backward kernels against the CPU's, and their
 * gradients against finite differences on every device.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gradcheck } from '../src/autograd/gradcheck.js';
import { getBackend, type DeviceName } from '../src/backend/registry.js';
import { ArgumentError } from '../src/errors.js';
import * as ops from '../src/ops/index.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { availableDevices } from './devices.js';
import { assertClose, randomArray } from './helpers.js';

const devices = await availableDevices();
const size = (s: number[]) => s.reduce((p, q) => p * q, 1);
const input = (shape: number[], seed: number) => ({ data: randomArray(size(shape), seed), shape });

/** out[o, j, k] = x[o, n-1-j, k], by explicit multi-indices. */
function flipReference(x: Float32Array, shape: number[], axis: number): Float32Array {
  const out = new Float32Array(x.length);
  const strides = shape.map((_, i) => size(shape.slice(i + 1)));
  for (let i = 0; i < x.length; i++) {
    const j = Math.floor(i / strides[axis]!) % shape[axis]!;
    out[i] = x[i + (shape[axis]! - 1 - 2 * j) * strides[axis]!]!;
  }
  return out;
}

/** PyTorch's depthwise Conv2d written out on the (B, C, H, W) view of channels-last data. */
function conv2dReference(x: Float32Array, [B, H, W, C]: number[], w: Float32Array, K: number, bias: Float32Array | null): Float32Array {
  const out = new Float32Array(x.length);
  const P = (K - 1) / 2;
  const at = (b: number, h: number, ww: number, c: number) => ((b * H + h) * W + ww) * C + c;
  for (let b = 0; b < B!; b++) for (let c = 0; c < C!; c++) for (let h = 0; h < H!; h++) for (let ww = 0; ww < W!; ww++) {
    let acc = bias ? bias[c]! : 0;
    for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) {
      const y = h - P + i;
      const xx = ww - P + j;
      if (y >= 0 && y < H! && xx >= 0 && xx < W!) acc += w[(c * K + i) * K + j]! * x[at(b, y, xx, c)]!;
    }
    out[at(b, h, ww, c)] = acc;
  }
  return out;
}

const flipCases: [number[], number][] = [[[7], 0], [[2, 5, 3], 1], [[2, 5, 3], 0], [[2, 5, 3], -1], [[3, 4, 4, 6], 2], [[1, 1000, 3], 1]];
const convCases: { shape: number[]; K: number; bias: boolean }[] = [
  { shape: [1, 1, 1, 1], K: 3, bias: true },
  { shape: [2, 5, 7, 3], K: 3, bias: true },
  { shape: [2, 4, 3, 70], K: 3, bias: false },
  { shape: [1, 6, 6, 5], K: 5, bias: true },
  { shape: [3, 2, 9, 4], K: 1, bias: false },
  // Enough (b, h, w) rows that the GPU sums dw over several chunks.
  { shape: [4, 28, 28, 9], K: 3, bias: true },
];

for (const dev of devices) {
  describe(`vision ops on ${dev}`, () => {
    test('flip reverses the axis (f32 and i32)', async () => {
      for (const [shape, axis] of flipCases) {
        const data = randomArray(size(shape), size(shape) + axis);
        const y = ops.flip(ops.tensor(data, shape, { device: dev }), axis);
        assert.deepEqual(y.shape, shape);
        const a = axis < 0 ? shape.length + axis : axis;
        assertClose(`flip ${JSON.stringify(shape)} axis ${axis}`, await y.data(), flipReference(data, shape, a), 0);
      }
      const ids = ops.tensor(Int32Array.from([1, 2, 3, 4, 5, 6]), [2, 3], { device: dev, dtype: 'i32' });
      assert.deepEqual([...(await ops.flip(ids, 1).data())], [3, 2, 1, 6, 5, 4]);
    });

    test('depthwiseConv2d equals the direct (B, C, H, W) convolution', async () => {
      for (const c of convCases) {
        const C = c.shape[3]!;
        const x = randomArray(size(c.shape), 1);
        const w = randomArray(C * c.K * c.K, 2);
        const b = c.bias ? randomArray(C, 3) : null;
        const y = ops.depthwiseConv2d(
          ops.tensor(x, c.shape, { device: dev }),
          ops.tensor(w, [C, c.K, c.K], { device: dev }),
          b ? ops.tensor(b, [C], { device: dev }) : null,
        );
        assertClose(`conv ${JSON.stringify(c)}`, await y.data(), conv2dReference(x, c.shape, w, c.K, b), 1e-5);
      }
    });

    test('flip and depthwiseConv2d gradients equal finite differences', async () => {
      const cases: [string, (...xs: Tensor[]) => Tensor, { data: Float32Array; shape: number[] }[]][] = [
        ['flip', (a) => ops.flip(ops.mul(a!, a!), 1), [input([2, 4, 3], 1)]],
        ['conv 3×3 with bias', (x, w, b) => ops.depthwiseConv2d(x!, w!, b!), [input([2, 3, 4, 2], 2), input([2, 3, 3], 3), input([2], 4)]],
        ['conv 5×5 without bias', (x, w) => ops.depthwiseConv2d(x!, w!), [input([1, 3, 2, 3], 5), input([3, 5, 5], 6)]],
      ];
      for (const [name, f, inputs] of cases) {
        const r = await gradcheck(f, inputs, { device: dev as DeviceName });
        assert.ok(r.maxError <= 1e-2 * Math.max(1, r.scale), `${name}: max error ${r.maxError} (scale ${r.scale}); worst ${r.worst}`);
      }
    });
  });
}

test('webgpu depthwiseConv2dBackward matches the CPU', async (t) => {
  if (!devices.includes('webgpu')) {
    t.skip('no WebGPU adapter');
    return;
  }
  for (const c of convCases) {
    const C = c.shape[3]!;
    const grads = async (dev: DeviceName) => {
      const tt = (shape: number[], seed: number) => ops.tensor(randomArray(size(shape), seed), shape, { device: dev });
      const r = getBackend(dev).depthwiseConv2dBackward!(tt(c.shape, 1), tt([C, c.K, c.K], 2), c.bias ? tt([C], 3) : null, tt(c.shape, 4));
      return [await r.dx.data(), await r.dw.data(), r.dbias ? await r.dbias.data() : null];
    };
    const want = await grads('cpu');
    const got = await grads('webgpu');
    ['dx', 'dw', 'dbias'].forEach((name, j) => {
      if (!want[j]) return assert.equal(got[j], null);
      assertClose(`${name} ${JSON.stringify(c)}`, got[j]!, want[j]!, 1e-5);
    });
  }
});

test('depthwiseConv2d refuses bad shapes, naming the argument', () => {
  const x = ops.zeros([1, 4, 4, 3]);
  assert.throws(() => ops.depthwiseConv2d(x, ops.zeros([3, 2, 2])), (e: Error) => e instanceof ArgumentError && /weight must be \(C=3, K, K\) with K odd, got \[3, 2, 2\]/.test(e.message));
  assert.throws(() => ops.depthwiseConv2d(x, ops.zeros([4, 3, 3])), /weight must be \(C=3/);
  assert.throws(() => ops.depthwiseConv2d(ops.zeros([4, 4, 3]), ops.zeros([3, 3, 3])), /x \(B, H, W, C\) must have rank 4/);
  assert.throws(() => ops.depthwiseConv2d(x, ops.zeros([3, 3, 3]), ops.zeros([2])), /bias must have shape \[3\]/);
  assert.throws(() => ops.flip(x, 4), /flip/);
});
