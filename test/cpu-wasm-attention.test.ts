/**
 * Causal grouped-query attention on the WebAssembly kernels (assembly/attention.ts, an online
 * softmax over blocks of 16 keys) against the TypeScript reference kernel (attention.ts, a
 * two-pass softmax in float64): grouped heads, queries after a cache (Lq < Lk) and one query,
 * contexts of several key blocks, unfilled cache capacity, a padding mask with left-padded rows
 * whose first queries see no real key (zeros), large score ranges (the running maximum grows
 * block after block); 1 and 3 threads give the same bits.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CpuBackend } from '../src/backend/cpu/index.js';
import type { CpuStorage } from '../src/backend/cpu/storage.js';
import { f32OnOrNull } from './cpu-tensors.js';
import { assertClose, randomArray } from './helpers.js';

const wasm = new CpuBackend({ kernels: 'wasm' });
const reference = new CpuBackend({ kernels: 'ts' });

interface Case {
  B: number;
  Lq: number;
  Lk: number;
  cap: number;
  H: number;
  Hkv: number;
  hd: number;
  padded?: number[]; // left padding per row
  spread?: number; // q and k range: large values give large score ranges
}

const CASES: Case[] = [
  { B: 1, Lq: 5, Lk: 5, cap: 5, H: 2, Hkv: 2, hd: 4 },
  { B: 2, Lq: 37, Lk: 37, cap: 40, H: 4, Hkv: 2, hd: 8 }, // grouped heads, three key blocks, spare capacity
  { B: 1, Lq: 1, Lk: 70, cap: 80, H: 6, Hkv: 3, hd: 64 }, // one decode query after a cache
  { B: 2, Lq: 9, Lk: 50, cap: 50, H: 2, Hkv: 1, hd: 16, spread: 4 }, // queries after a cache, wide scores
  { B: 3, Lq: 20, Lk: 20, cap: 24, H: 4, Hkv: 4, hd: 12, padded: [0, 5, 19] }, // left padding; row 2 has one real key
];

function run(b: CpuBackend, c: Case): { out: Float32Array; heap: boolean } {
  const seed = c.B * 31 + c.Lq * 7 + c.Lk + c.hd;
  const r = c.spread ?? 1;
  const q = f32OnOrNull(b, randomArray(c.B * c.Lq * c.H * c.hd, seed, -r, r), [c.B, c.Lq, c.H, c.hd])!;
  const k = f32OnOrNull(b, randomArray(c.B * c.Hkv * c.cap * c.hd, seed + 1, -r, r), [c.B, c.Hkv, c.cap, c.hd])!;
  const v = f32OnOrNull(b, randomArray(c.B * c.Hkv * c.cap * c.hd, seed + 2), [c.B, c.Hkv, c.cap, c.hd])!;
  const maskData = c.padded ? Float32Array.from({ length: c.B * c.Lk }, (_, i) => (i % c.Lk < c.padded![Math.floor(i / c.Lk)]! ? 0 : 1)) : null;
  const keyMask = f32OnOrNull(b, maskData, [c.B, c.Lk]);
  const y = b.attention({ q, k, v, keyLength: c.Lk, keyMask });
  const out = { out: Float32Array.from(y.dataSync() as Float32Array), heap: (y.storage as CpuStorage).heap !== null };
  for (const t of [q, k, v, keyMask, y]) t?.dispose();
  return out;
}

describe('WebAssembly attention against the TypeScript reference', () => {
  for (const c of CASES) {
    test(`${JSON.stringify(c)}: matches, and 1 and 3 threads give the same bits`, () => {
      const want = run(reference, c);
      wasm.memory.runtime!.setThreads(1);
      const one = run(wasm, c);
      assert.ok(one.heap, 'the WebAssembly kernel ran (its output lives in the heap)');
      assertClose('attention', one.out, want.out, 2e-5);
      if (c.padded) {
        // A query before its row's first real token sees no real key: exactly zeros.
        const { B, Lq, H, hd } = c;
        for (let b = 0; b < B; b++) {
          for (let i = 0; i < c.padded[b]! - (c.Lk - Lq); i++) {
            const at = ((b * Lq + i) * H) * hd;
            assert.ok(one.out.subarray(at, at + H * hd).every((x) => x === 0), `row ${b} query ${i} is all zeros`);
          }
        }
      }
      wasm.memory.runtime!.setThreads(3);
      assert.deepEqual(run(wasm, c).out, one.out, '3 threads vs 1');
    });
  }
});
