/**
 * Row gather / scatter-add (MoE dispatch): against plain loops on every device, deterministic,
 * gradient-checked on every device, and bad indices refused.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gradcheck } from '../src/autograd/gradcheck.js';
import * as ops from '../src/ops/index.js';
import { RowIndex } from '../src/ops/rows.js';
import type { DeviceName } from '../src/backend/registry.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { availableDevices } from './devices.js';
import { assertClose, randomArray } from './helpers.js';

/** Indices with repeats and rows nothing points at: 0..rows-1 drawn from a fixed sequence. */
function indices(n: number, rows: number, seed: number): number[] {
  return Array.from(randomArray(n, seed, 0, rows), (v) => Math.min(rows - 1, Math.floor(v)));
}

function gatherRef(x: Float32Array, index: number[], H: number): Float32Array {
  const out = new Float32Array(index.length * H);
  index.forEach((r, i) => out.set(x.subarray(r * H, (r + 1) * H), i * H));
  return out;
}

function scatterRef(src: Float32Array, index: number[], rows: number, H: number): Float64Array {
  const out = new Float64Array(rows * H);
  index.forEach((r, i) => {
    for (let h = 0; h < H; h++) out[r * H + h]! += src[i * H + h]!;
  });
  return out;
}

for (const device of await availableDevices())
describe(`gatherRows / scatterAddRows on ${device}`, () => {
  const cases: [number, number, number[]][] = [
    [1, 1, [1]], // one row, one position
    [5, 7, [3]],
    [37, 300, [5]], // more positions than rows: repeats
    [9, 4, [2, 3]], // trailing dims flattened
    [257, 1000, [3]], // past one workgroup of rows
  ];
  for (const [rows, n, rest] of cases) {
    test(`rows ${rows}, positions ${n}, row shape [${rest.join(', ')}] equal the plain loops`, async () => {
      const H = rest.reduce((p, q) => p * q, 1);
      const index = indices(n, rows, rows + n);
      const idx = new RowIndex(index, rows, device);
      const x = randomArray(rows * H, 3);
      const src = randomArray(n * H, 4);
      const tx = ops.tensor(x, [rows, ...rest], { device });
      const ts = ops.tensor(src, [n, ...rest], { device });
      const g = ops.gatherRows(tx, idx);
      const s = ops.scatterAddRows(ts, idx);
      assert.deepEqual(g.shape, [n, ...rest]);
      assert.deepEqual(s.shape, [rows, ...rest]);
      assert.deepEqual(Array.from(await g.data()), Array.from(gatherRef(x, index, H)));
      assertClose('scatterAddRows', await s.data(), scatterRef(src, index, rows, H), 1e-6);
      // Same inputs, same bits: no atomics in the sum.
      const again = ops.scatterAddRows(ts, idx);
      assert.deepEqual(Array.from(await again.data()), Array.from(await s.data()));
      for (const t of [tx, ts, g, s, again]) t.dispose();
      idx.dispose();
    });
  }

  test('webgpu and cpu scatter-add give the same bits', { skip: device === 'cpu' }, async () => {
    const [rows, n, H] = [50, 400, 33];
    const index = indices(n, rows, 9);
    const src = randomArray(n * H, 10);
    const sums = [];
    for (const d of ['cpu', device] as DeviceName[]) {
      const idx = new RowIndex(index, rows, d);
      const t = ops.tensor(src, [n, H], { device: d });
      const y = ops.scatterAddRows(t, idx);
      sums.push(Array.from(await y.data()));
      for (const u of [t, y]) u.dispose();
      idx.dispose();
    }
    assert.deepEqual(sums[1], sums[0]);
  });

  const grad = async (name: string, f: (x: Tensor) => Tensor, shape: number[]) => {
    const r = await gradcheck(f, [{ data: randomArray(shape.reduce((p, q) => p * q, 1), 11), shape }], { device });
    assert.ok(r.maxError <= 1e-2 * Math.max(1, r.scale), `${name}: max error ${r.maxError} (scale ${r.scale}); worst ${r.worst}`);
  };
  test('gatherRows backward (repeated rows add up) equals finite differences', async () => {
    const idx = new RowIndex([2, 0, 2, 3, 2], 4, device);
    await grad('gatherRows', (x) => ops.gatherRows(ops.mul(x, x), idx), [4, 3]);
    idx.dispose();
  });
  test('scatterAddRows backward equals finite differences', async () => {
    const idx = new RowIndex([1, 1, 0, 3, 1, 0], 5, device);
    await grad('scatterAddRows', (x) => ops.scatterAddRows(ops.mul(x, x), idx), [6, 2]);
    idx.dispose();
  });
});

describe('RowIndex refuses bad input', () => {
  test('an index outside the rows is named', () => {
    assert.throws(() => new RowIndex([0, 4], 4, 'cpu'), /RowIndex: index\[1\] = 4 is outside \[0, 4\)/);
    assert.throws(() => new RowIndex([0, -1], 4, 'cpu'), /index\[1\] = -1/);
    assert.throws(() => new RowIndex([0.5], 4, 'cpu'), /index\[0\] = 0.5/);
    assert.throws(() => new RowIndex([], 4, 'cpu'), /at least one index/);
    assert.throws(() => new RowIndex([0], 0, 'cpu'), /rows must be an integer >= 1/);
  });
  test('a tensor whose rows do not fit the index is refused', () => {
    const idx = new RowIndex([0, 1], 3, 'cpu');
    const x = ops.tensor(new Float32Array(8), [4, 2]);
    assert.throws(() => ops.gatherRows(x, idx), /gatherRows: x has 4 rows, the index is over 3/);
    assert.throws(() => ops.scatterAddRows(x, idx), /scatterAddRows: src has 4 rows, the index has 2 positions/);
    x.dispose();
    idx.dispose();
  });
});
