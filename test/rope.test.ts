/**
 * The rotary position embedding op (ops/rope.ts) on every device against a plain loop written from
 * HF Llama's definition (cos/sin over the full head dimension by concatenating the half-frequency
 * angles twice, rotate_half), at small and long-context positions; its gradient against finite
 * differences; its argument checks.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gradcheck } from '../src/autograd/gradcheck.js';
import { ArgumentError } from '../src/errors.js';
import * as ops from '../src/ops/index.js';
import { availableDevices } from './devices.js';
import { assertClose, randomArray } from './helpers.js';

/**
 * HF's apply_rotary_pos_emb on x (B, L, heads, hd): emb = cat(freqs, freqs) with freqs =
 * fround(pos · invFreq) (HF's float32 product), q·cos(emb) + rotate_half(q)·sin(emb).
 */
function ropeReference(x: Float32Array, [B, L, heads, hd]: number[], positions: number[][], invFreq: Float32Array): Float64Array {
  const out = new Float64Array(x.length);
  const half = hd! / 2;
  for (let b = 0; b < B!; b++) for (let l = 0; l < L!; l++) {
    const emb = [...invFreq, ...invFreq].map((f) => Math.fround(positions[b]![l]! * f));
    for (let h = 0; h < heads!; h++) {
      const at = ((b * L! + l) * heads! + h) * hd!;
      const q = Array.from(x.subarray(at, at + hd!));
      const rotated = [...q.slice(half).map((v) => -v), ...q.slice(0, half)];
      for (let j = 0; j < hd!; j++) out[at + j] = q[j]! * Math.cos(emb[j]!) + rotated[j]! * Math.sin(emb[j]!);
    }
  }
  return out;
}

/** Llama's default inverse frequencies 1 / θ^(2i / hd), float32. */
function invFreqOf(hd: number, theta = 10000): Float32Array {
  return Float32Array.from({ length: hd / 2 }, (_, i) => 1 / Math.pow(theta, (2 * i) / hd));
}

const cases: { shape: [number, number, number, number]; positions: (b: number, l: number) => number; tol: number }[] = [
  { shape: [1, 1, 1, 2], positions: () => 3, tol: 1e-6 },
  { shape: [2, 5, 3, 8], positions: (b, l) => l + 2 * b, tol: 1e-6 },
  // Left padding: row 1 starts 3 positions later (pads at position 1, as HF generate).
  { shape: [2, 6, 4, 16], positions: (b, l) => (b === 1 ? (l < 3 ? 1 : l - 3) : l), tol: 1e-6 },
  { shape: [1, 3, 2, 64], positions: (_, l) => 5000 + l, tol: 1e-5 },
  // Long contexts: angles up to ~2e5 rad, where an unreduced GPU cos/sin would be far off.
  { shape: [2, 2, 2, 128], positions: (b, l) => 131000 + 70000 * b + l, tol: 2e-5 },
];

for (const device of await availableDevices()) {
  describe(`rope on ${device}`, () => {
    test('equals HF apply_rotary_pos_emb written out', async () => {
      for (const c of cases) {
        const [B, L, , hd] = c.shape;
        const x = randomArray(c.shape.reduce((p, q) => p * q, 1), hd + L);
        const pos = Array.from({ length: B }, (_, b) => Array.from({ length: L }, (_, l) => c.positions(b, l)));
        const inv = invFreqOf(hd);
        const y = ops.rope(
          ops.tensor(x, c.shape, { device }),
          ops.tensor(Int32Array.from(pos.flat()), [B, L], { device, dtype: 'i32' }),
          ops.tensor(inv, [hd / 2], { device }),
        );
        assert.deepEqual(y.shape, c.shape);
        assertClose(`rope ${JSON.stringify(c.shape)}`, await y.data(), ropeReference(x, c.shape, pos, inv), c.tol);
        y.dispose();
      }
    });

    test('gradient equals finite differences (the backward rotates by −θ)', async () => {
      const shape = [2, 3, 2, 6];
      const pos = ops.tensor(Int32Array.from([0, 1, 2, 7, 1, 9]), [2, 3], { device, dtype: 'i32' });
      const inv = ops.tensor(invFreqOf(6, 100), [3], { device });
      // Squared, so the objective is not linear in x and the rule is exercised away from x = 0.
      const r = await gradcheck((a) => ops.rope(ops.mul(a!, a!), pos, inv), [{ data: randomArray(72, 5), shape }], { device });
      assert.ok(r.maxError <= 2e-3 * Math.max(1, r.scale), `max error ${r.maxError} (${r.worst})`);
      pos.dispose();
      inv.dispose();
    });
  });
}

test('rope refuses odd head dimensions and wrong dtypes or shapes, naming the argument', () => {
  const pos = ops.tensor(Int32Array.from([0, 1]), [1, 2], { dtype: 'i32' });
  const x = ops.zeros([1, 2, 1, 4]);
  assert.throws(() => ops.rope(ops.zeros([1, 2, 1, 3]), pos, ops.zeros([1])), (e) => e instanceof ArgumentError && /head dimension must be even/.test(e.message));
  assert.throws(() => ops.rope(x, ops.zeros([1, 2]), ops.zeros([2])), (e) => e instanceof ArgumentError && /positions must be i32/.test(e.message));
  assert.throws(() => ops.rope(x, pos, ops.zeros([4])), (e) => e instanceof ArgumentError && /invFreq \(hd \/ 2\) must have shape \[2\]/.test(e.message));
  assert.throws(() => ops.rope(ops.zeros([2, 2, 1, 4]), pos, ops.zeros([2])), (e) => e instanceof ArgumentError && /positions \(B, L\) must have shape \[2, 2\]/.test(e.message));
});
