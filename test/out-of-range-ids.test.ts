/**
 * Ids and labels that no host check saw: a MoE router's top-k gives -1 where no score qualifies
 * (NaN scores), and crossEntropy takes labels from the device. Neither may read past a buffer
 * (with Dawn's robustness off that is undefined) or give another row's numbers: an embedding row
 * of an id outside the table is zeros, and the loss and gradient of a label outside the
 * vocabulary are NaN, on every backend alike.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../src/autograd/backward.js';
import { markLeaf } from '../src/autograd/tape.js';
import type { DeviceName } from '../src/backend/registry.js';
import * as ops from '../src/ops/index.js';
import { halfTensor } from '../src/ops/create.js';
import { f32ToBf16 } from '../src/tensor/half.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { availableDevices } from './devices.js';

async function each(fn: (d: DeviceName) => Promise<void>): Promise<void> {
  for (const d of await availableDevices()) await fn(d);
}

test('embedding with unchecked ids outside the table gives rows of zeros (f32 and bf16 tables)', async () => {
  await each(async (d) => {
    const V = 4;
    const H = 3;
    const values = Float32Array.from({ length: V * H }, (_, i) => i + 1);
    const tables: Tensor[] = [ops.tensor(values, [V, H], { device: d }), halfTensor(f32ToBf16(values), [V, H], 'bf16', { device: d })];
    for (const table of tables) {
      // Fill the pool with non-zero buffers first, so that a row the kernel skips would show.
      ops.tensor(new Float32Array(64).fill(7), [64], { device: d }).dispose();
      const ids = ops.tensor(Int32Array.from([2, -1, V, 0, 1000]), [5], { device: d, dtype: 'i32' });
      const y = ops.embedding(ids, table, true);
      const got = Array.from(await y.data());
      const want = [...values.subarray(2 * H, 3 * H), 0, 0, 0, 0, 0, 0, ...values.subarray(0, H), 0, 0, 0];
      assert.deepEqual(got, want, `${d} ${table.dtype}`);
      for (const t of [ids, y, table]) t.dispose();
    }
  });
});

test('crossEntropy: a label outside the vocabulary gives NaN for its row (loss and gradient), the other rows as usual', async () => {
  await each(async (d) => {
    const [R, V] = [4, 5];
    const x = Float32Array.from({ length: R * V }, (_, i) => Math.sin(i));
    const logits = ops.tensor(x, [R, V], { device: d });
    const slot = { grad: null as Tensor | null };
    markLeaf(logits, slot);
    // Row 1: past the vocabulary (V would read the next row's first logit); row 2: negative; row 3 ignored.
    const labels = ops.tensor(Int32Array.from([3, V, -2, -100]), [R], { device: d, dtype: 'i32' });
    const loss = ops.crossEntropy(logits, labels, 3);
    loss.backward();
    assert.ok(Number.isNaN((await loss.data())[0]), `${d}: the loss is NaN`);
    const g = await slot.grad!.data();
    const row = (r: number) => Array.from(g.subarray(r * V, (r + 1) * V));
    assert.ok(row(1).every(Number.isNaN) && row(2).every(Number.isNaN), `${d}: the bad rows' gradients are NaN`);
    assert.deepEqual(row(3), [0, 0, 0, 0, 0], `${d}: the ignored row`);
    // Row 0: softmax − one-hot, over the 3 valid rows.
    const r0 = Array.from(x.subarray(0, V));
    const m = Math.max(...r0);
    const z = r0.reduce((s, v) => s + Math.exp(v - m), 0);
    row(0).forEach((v, i) => assert.ok(Math.abs(v - (Math.exp(r0[i]! - m) / z - (i === 3 ? 1 : 0)) / 3) < 1e-6, `${d}: row 0, ${i}`));
    for (const t of [logits, labels, loss, slot.grad!]) t.dispose();
  });
});
