/**
 * The device-positioned decode ops (ops/decode-step.ts) on WebGPU: appendKvAt writes a token's keys
 * and values at the position held in a device buffer, exactly as writeSlice at that position; and
 * attentionAt over length[0] + 1 keys with a (B, cap) key mask gives exactly what
 * scaledDotProductAttention gives with keyLength = length[0] + 1 and the (B, keyLength) mask (the
 * same launches: the decode splits follow the capacity). Bad inputs get clear errors; the CPU has
 * no such ops.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ops from '../src/ops/index.js';
import { tidy } from '../src/tensor/memory.js';
import { availableDevices } from './devices.js';
import { randomArray } from './helpers.js';

const [B, H, Hkv, hd, cap] = [2, 4, 2, 8, 40];

test('cpu: the device-positioned ops are absent and say so', () => {
  const kc = ops.zeros([B, Hkv, cap, hd]);
  const k = ops.zeros([B, Hkv, 1, hd]);
  const len = ops.tensor(Int32Array.of(3), [1], { dtype: 'i32' });
  assert.equal(ops.attentionAtFits(kc, B, H, Hkv, hd), false);
  assert.throws(() => ops.appendKvAt(kc, kc, k, k, len), /no device-positioned KV writes/);
  for (const t of [kc, k, len]) t.dispose();
});

for (const length of [0, 17, 39]) {
  test(`webgpu: appendKvAt and attentionAt at position ${length} equal writeSlice and scaledDotProductAttention`, async (t) => {
    if (!(await availableDevices()).includes('webgpu')) {
      t.skip('no WebGPU adapter');
      return;
    }
    const o = { device: 'webgpu' as const };
    const kc = ops.tensor(randomArray(B * Hkv * cap * hd, 1), [B, Hkv, cap, hd], o);
    const vc = ops.tensor(randomArray(B * Hkv * cap * hd, 2), [B, Hkv, cap, hd], o);
    const [kc2, vc2] = tidy(() => [ops.add(kc, ops.zeros([1], o)), ops.add(vc, ops.zeros([1], o))]);
    const k = ops.tensor(randomArray(B * Hkv * hd, 3), [B, Hkv, 1, hd], o);
    const v = ops.tensor(randomArray(B * Hkv * hd, 4), [B, Hkv, 1, hd], o);
    const q = ops.tensor(randomArray(B * H * hd, 5), [B, 1, H, hd], o);
    const len = ops.tensor(Int32Array.of(length), [1], { dtype: 'i32', device: 'webgpu' });
    // Row 1 has its first three tokens padded (when there are that many before the new one).
    const Lk = length + 1;
    const mask = Array.from({ length: B }, (_, b) => Array.from({ length: cap }, (_, j) => (b === 1 && j < Math.min(3, length) ? 0 : 1)));
    const wide = ops.tensor(Float32Array.from(mask.flat()), [B, cap], o);
    const narrow = ops.tensor(Float32Array.from(mask.flatMap((r) => r.slice(0, Lk))), [B, Lk], o);
    assert.equal(ops.attentionAtFits(kc, B, H, Hkv, hd), true);
    ops.appendKvAt(kc, vc, k, v, len);
    ops.writeSlice(kc2, k, 2, length);
    ops.writeSlice(vc2, v, 2, length);
    assert.deepEqual(await kc.data(), await kc2.data());
    assert.deepEqual(await vc.data(), await vc2.data());
    const got = ops.attentionAt(q, kc, vc, len, wide);
    const want = ops.scaledDotProductAttention(q, kc2, vc2, { keyLength: Lk, keyMask: narrow });
    assert.deepEqual(await got.data(), await want.data());
    if (Lk < cap) assert.throws(() => ops.attentionAt(q, kc, vc, len, narrow), /keyMask \(B, cap\)/);
    assert.throws(() => ops.attentionAt(q, kc, vc, wide, null), /length must be an int32 tensor/);
    for (const x of [kc, vc, kc2, vc2, k, v, q, len, wide, narrow, got, want]) x.dispose();
  });
}
