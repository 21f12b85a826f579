/**
 * scaledDotProductAttention (the fused op) against attentionComposed (matmul/softmax) on every
 * device, its backward against finite differences (CPU) and the CPU's gradients (WebGPU), the
 * in-place KV cache, and CausalSelfAttention decoding step by step equal to one pass.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { backward } from '../src/autograd/backward.js';
import { gradcheck } from '../src/autograd/gradcheck.js';
import { markLeaf, noGrad, type GradSlot } from '../src/autograd/tape.js';
import type { DeviceName } from '../src/backend/registry.js';
import { CausalSelfAttention, grownCapacity, KvCache } from '../src/nn/attention.js';
import { attentionComposed, concat, mul, reshape, scaledDotProductAttention, slice, sum, tensor, writeSlice, zeros } from '../src/ops/index.js';
import { liveTensorCount, tidy } from '../src/tensor/memory.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { availableDevices } from './devices.js';
import { assertClose, randomArray } from './helpers.js';

interface Case {
  name: string;
  B: number;
  Lq: number;
  Lk: number;
  H: number;
  Hkv: number;
  hd: number;
  /** Positions of k and v beyond Lk (unfilled cache capacity). */
  spare?: number;
  /** Left padding per batch row (a key mask). */
  pads?: number[];
}

const cases: Case[] = [
  { name: 'Lq = Lk, G = 2, hd 8', B: 2, Lq: 7, Lk: 7, H: 4, Hkv: 2, hd: 8 },
  { name: 'Lq < Lk (after a cache), G = 4, hd 16', B: 1, Lq: 5, Lk: 37, H: 8, Hkv: 2, hd: 16 },
  { name: 'several tiles, G = 1, hd 13 (not a multiple of 4)', B: 1, Lq: 40, Lk: 40, H: 3, Hkv: 3, hd: 13 },
  { name: 'hd 128, G = 4, unfilled capacity', B: 1, Lq: 70, Lk: 70, H: 8, Hkv: 2, hd: 128, spare: 9 },
  { name: 'decode (Lq = 1), many splits, G = 1, hd 32', B: 2, Lq: 1, Lk: 300, H: 3, Hkv: 3, hd: 32 },
  { name: 'decode, G = 4, hd 128, unfilled capacity', B: 2, Lq: 1, Lk: 130, H: 8, Hkv: 2, hd: 128, spare: 30 },
  { name: 'decode, G = 2, hd 64, one key', B: 1, Lq: 1, Lk: 1, H: 2, Hkv: 1, hd: 64 },
  { name: 'left padding, Lq = Lk (padded queries give 0)', B: 3, Lq: 9, Lk: 9, H: 4, Hkv: 2, hd: 8, pads: [0, 2, 5] },
  { name: 'left padding, Lq < Lk', B: 2, Lq: 3, Lk: 20, H: 4, Hkv: 1, hd: 24, pads: [4, 0] },
  { name: 'left padding, decode, a row all padding', B: 3, Lq: 1, Lk: 150, H: 4, Hkv: 2, hd: 16, pads: [0, 149, 150] },
];

function inputs(c: Case, device: DeviceName) {
  const cap = c.Lk + (c.spare ?? 0);
  const q = tensor(randomArray(c.B * c.Lq * c.H * c.hd, 1, -2, 2), [c.B, c.Lq, c.H, c.hd], { device });
  const k = tensor(randomArray(c.B * c.Hkv * cap * c.hd, 2, -2, 2), [c.B, c.Hkv, cap, c.hd], { device });
  const v = tensor(randomArray(c.B * c.Hkv * cap * c.hd, 3), [c.B, c.Hkv, cap, c.hd], { device });
  const keyMask = c.pads ? tensor(Float32Array.from({ length: c.B * c.Lk }, (_, i) => (i % c.Lk < c.pads![Math.floor(i / c.Lk)]! ? 0 : 1)), [c.B, c.Lk], { device }) : null;
  return { q, k, v, o: { keyLength: c.Lk, keyMask } };
}

for (const device of await availableDevices())
describe(`scaledDotProductAttention on ${device}`, () => {
  for (const c of cases) {
    test(`equals the matmul/softmax composition: ${c.name}`, async () => {
      const { q, k, v, o } = inputs(c, device);
      const fused = scaledDotProductAttention(q, k, v, o);
      const composed = attentionComposed(q, k, v, o);
      assert.deepEqual(fused.shape, [c.B, c.Lq, c.H, c.hd]);
      const got = (await fused.data()) as Float32Array;
      assertClose(`${c.name} on ${device}`, got, await composed.data(), 1e-5);
      if (c.pads) {
        // Queries before a row's first real token see only padding: exactly 0, never NaN.
        for (let b = 0; b < c.B; b++) {
          for (let i = 0; i < c.Lq; i++) {
            const row = got.subarray(((b * c.Lq + i) * c.H) * c.hd, ((b * c.Lq + i + 1) * c.H) * c.hd);
            const blind = c.Lk - c.Lq + i < c.pads[b]!;
            assert.ok(row.every((x) => (blind ? x === 0 : Number.isFinite(x))), `row ${b}, query ${i}: ${blind ? 'not all 0' : 'not finite'}`);
          }
        }
      }
      for (const t of [q, k, v, fused, composed, o.keyMask]) t?.dispose();
    });
  }

  test('gradients of q, k, v equal the CPU\'s (with padding and unfilled capacity)', async () => {
    const c: Case = { name: 'grad', B: 2, Lq: 6, Lk: 11, H: 4, Hkv: 2, hd: 12, spare: 3, pads: [0, 7] };
    const grads = async (dev: DeviceName) => {
      const { q, k, v, o } = inputs(c, dev);
      const slots: GradSlot[] = [{ grad: null }, { grad: null }, { grad: null }];
      [q, k, v].forEach((t, i) => markLeaf(t, slots[i]!));
      const w = tensor(randomArray(q.size, 9), q.shape, { device: dev });
      const loss = tidy(() => sum(reshape(mul(scaledDotProductAttention(q, k, v, o), w), [1, q.size])));
      backward(loss);
      const out = await Promise.all(slots.map((s) => s.grad!.data()));
      for (const t of [q, k, v, w, loss, o.keyMask, ...slots.map((s) => s.grad)]) t?.dispose();
      return out;
    };
    const want = await grads('cpu');
    const got = await grads(device);
    ['dq', 'dk', 'dv'].forEach((n, i) => assertClose(`${n} on ${device}`, got[i]!, want[i]!, 1e-5));
    // The unfilled positions of k and v get no gradient.
    const kv = got[1]!;
    for (let bh = 0; bh < c.B * c.Hkv; bh++) {
      for (let j = c.Lk; j < c.Lk + c.spare!; j++) for (let d = 0; d < c.hd; d++) assert.equal(kv[(bh * (c.Lk + c.spare!) + j) * c.hd + d], 0);
    }
  });

  test('KvCache: appends in place, grows geometrically, and holds what concat would', async () => {
    const cache = new KvCache(2, 3, 4, device, 2);
    const parts: Tensor[] = [];
    for (const [L, seed] of [[3, 1], [1, 2], [1, 3], [4, 4]] as const) {
      const k = tensor(randomArray(2 * 3 * L * 4, seed), [2, 3, L, 4], { device });
      cache.append(k, k);
      parts.push(k);
    }
    assert.equal(cache.length, 9);
    assert.equal(cache.capacity, 16); // 2 → 4 (for 3) → 8 (for 5) → 16 (for 9): doubled each time
    const all = concat(parts, 2);
    const filled = (t: Tensor) => tidy(() => reshape(t, [6, cache.capacity * 4]));
    const kData = (await filled(cache.k).data()) as Float32Array;
    const want = (await all.data()) as Float32Array;
    for (let r = 0; r < 6; r++) assertClose(`row ${r}`, kData.subarray(r * cache.capacity * 4, r * cache.capacity * 4 + 36), want.subarray(r * 36, (r + 1) * 36), 0);
    for (const t of [...parts, all]) t.dispose();
    cache.dispose();
  });

  test('CausalSelfAttention: prefill then single steps (growing the cache) equals one pass', async () => {
    const dims = { hiddenSize: 16, numHeads: 4, numKvHeads: 2, headDim: 8 };
    const attn = new CausalSelfAttention(dims);
    for (const [name, p] of attn.namedParameters()) p.set(tensor(randomArray(p.shape.reduce((a, b) => a * b, 1), name.length, -0.5, 0.5), p.shape, { device }));
    const B = 2;
    const L = 40;
    const x = tensor(randomArray(B * L * 16, 7), [B, L, 16], { device });
    const live = liveTensorCount();
    const full = noGrad(() => tidy(() => attn.forward(x)));
    const want = (await full.data()) as Float32Array;
    let cache: KvCache | null = null;
    const pieces: [number, number][] = [[0, 5], ...Array.from({ length: L - 5 }, (_, i): [number, number] => [5 + i, 6 + i])];
    for (const [a, b] of pieces) {
      const out = noGrad(() => tidy(() => {
        const r = attn.forward(slice(x, 1, a, b - a), cache);
        cache = r.kv;
        return r.out;
      }));
      const got = (await out.data()) as Float32Array;
      for (let r = 0; r < B; r++) {
        const at = (t: number) => want.subarray((r * L + t) * 16, (r * L + t + 1) * 16);
        assertClose(`tokens [${a}, ${b}) of row ${r}`, got.subarray(r * (b - a) * 16, (r + 1) * (b - a) * 16), Float32Array.from({ length: (b - a) * 16 }, (_, i) => at(a + Math.floor(i / 16))[i % 16]!), 1e-5);
      }
      out.dispose();
    }
    const c = cache as unknown as KvCache;
    assert.equal(c.length, L);
    assert.ok(c.capacity >= L && c.capacity <= 2 * L, `capacity ${c.capacity}`);
    c.dispose();
    full.dispose();
    assert.equal(liveTensorCount(), live, 'no tensors leaked');
    x.dispose();
    attn.dispose();
  });
});

describe('scaledDotProductAttention: backward equals finite differences (CPU)', () => {
  const input = (shape: number[], seed: number) => ({ data: randomArray(shape.reduce((p, q) => p * q, 1), seed), shape });
  const check = async (name: string, f: (q: Tensor, k: Tensor, v: Tensor) => Tensor, shapes: number[][]) => {
    const r = await gradcheck((q, k, v) => f(q!, k!, v!), shapes.map((s, i) => input(s, 10 + i)));
    assert.ok(r.maxError <= 1e-2 * Math.max(1, r.scale), `${name}: max error ${r.maxError} (scale ${r.scale}); worst ${r.worst}`);
  };
  test('Lq = Lk, G = 2', () => check('plain', (q, k, v) => scaledDotProductAttention(q, k, v), [[2, 4, 4, 3], [2, 2, 4, 3], [2, 2, 4, 3]]));
  test('Lq < Lk with unfilled capacity', () => check('cache', (q, k, v) => scaledDotProductAttention(q, k, v, { keyLength: 5 }), [[1, 2, 2, 3], [1, 1, 7, 3], [1, 1, 7, 3]]));
  test('left padding, with queries that see only padding', () =>
    check('mask', (q, k, v) => scaledDotProductAttention(q, k, v, { keyMask: tensor([1, 1, 1, 1, 0, 0, 1, 1], [2, 4]) }), [[2, 4, 2, 3], [2, 1, 4, 3], [2, 1, 4, 3]]));
});

describe('scaledDotProductAttention: bad input', () => {
  const t = (shape: number[]) => zeros(shape);
  const cases: [string, () => unknown, RegExp][] = [
    ['q of rank 3', () => scaledDotProductAttention(t([1, 2, 8]), t([1, 1, 2, 8]), t([1, 1, 2, 8])), /q \(B, Lq, H, hd\) must have rank 4/],
    ['head_dim mismatch', () => scaledDotProductAttention(t([1, 2, 2, 8]), t([1, 1, 2, 4]), t([1, 1, 2, 4])), /k must have shape \[1, \*, \*, 8\]/],
    ['heads not a multiple', () => scaledDotProductAttention(t([1, 2, 3, 8]), t([1, 2, 2, 8]), t([1, 2, 2, 8])), /3 query heads must be a positive multiple of the 2 KV heads/],
    ['v differs from k', () => scaledDotProductAttention(t([1, 2, 2, 8]), t([1, 1, 2, 8]), t([1, 1, 3, 8])), /v must have shape \[1, 1, 2, 8\]/],
    ['more queries than keys', () => scaledDotProductAttention(t([1, 3, 2, 8]), t([1, 1, 2, 8]), t([1, 1, 2, 8])), /1 <= Lq <= keyLength/],
    ['keyLength beyond k', () => scaledDotProductAttention(t([1, 1, 2, 8]), t([1, 1, 2, 8]), t([1, 1, 2, 8]), { keyLength: 3 }), /keyLength must be an integer at most k's 2 positions/],
    ['mask of the wrong length', () => scaledDotProductAttention(t([1, 1, 2, 8]), t([1, 1, 4, 8]), t([1, 1, 4, 8]), { keyLength: 3, keyMask: t([1, 4]) }), /keyMask \(B, keyLength\) must have shape \[1, 3\]/],
    ['writeSlice past the end', () => writeSlice(t([1, 4, 2]), t([1, 3, 2]), 1, 2), /\[2, 5\) is outside axis 1/],
    ['writeSlice of another shape', () => writeSlice(t([1, 4, 2]), t([1, 3, 3]), 1, 0), /does not fit dst/],
    ['KvCache.append of the wrong heads', () => new KvCache(1, 2, 8, 'cpu').append(t([1, 1, 1, 8]), t([1, 1, 1, 8])), /k must be \(1, 2, L, 8\)/],
  ];
  for (const [name, f, re] of cases) test(`${name} is refused, naming the argument`, () => assert.throws(() => tidy(f), re));
});

test('KV buffers double up to 1 GiB, then grow by a quarter (WebGPU binds at most 2 GiB)', () => {
  const perPosition = 64 * 16 * 128 * 4; // batch 64, 16 KV heads of 128
  assert.equal(grownCapacity(1024, 1025, perPosition), 2048); // 1 GiB exactly: doubled
  assert.equal(grownCapacity(2048, 2049, perPosition), 2560); // 1.25 GiB instead of 2
  assert.equal(grownCapacity(2560, 5000, perPosition), 5000); // never less than the need
  assert.equal(grownCapacity(16, 17, 4), 32);
});
