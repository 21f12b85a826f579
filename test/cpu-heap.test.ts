/**
 * The CPU backend's memory: the allocator (reuse, merging of neighbours, growth, exhaustion), CPU
 * tensors living in the WebAssembly heap with exact byte accounting, the fall back to JavaScript
 * arrays when the heap is full, and an unshared memory whose buffer is replaced as it grows.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BlockAllocator } from '../src/backend/cpu/wasm/allocator.js';
import { CpuBackend } from '../src/backend/cpu/index.js';
import type { CpuStorage } from '../src/backend/cpu/storage.js';
import { HEAP_BASE } from '../src/backend/cpu/wasm/layout.js';
import { StorageRef, Tensor } from '../src/tensor/tensor.js';
import { randomArray } from './helpers.js';

/** An allocator over a space that grows in 64 KiB steps up to `limit` bytes. */
function space(limit: number) {
  let size = 65536 * 2;
  const grows: number[] = [];
  const a = new BlockAllocator(HEAP_BASE, size, (bytes) => {
    if (bytes > limit) return null;
    size = Math.ceil(bytes / 65536) * 65536;
    grows.push(size);
    return size;
  });
  return { a, grows };
}

describe('BlockAllocator', () => {
  test('blocks are 64-byte aligned, disjoint, and a freed block is reused for the same size', () => {
    const { a } = space(1 << 30);
    const p = [100, 1, 4096, 0, 77].map((n) => ({ n, ptr: a.alloc(n)!.ptr }));
    for (const { ptr } of p) assert.equal(ptr % 64, 0);
    const sorted = [...p].sort((x, y) => x.ptr - y.ptr);
    for (let i = 1; i < sorted.length; i++) assert.ok(sorted[i]!.ptr >= sorted[i - 1]!.ptr + BlockAllocator.blockBytes(sorted[i - 1]!.n));
    a.free(p[2]!.ptr, 4096);
    const again = a.alloc(4000)!;
    assert.equal(again.ptr, p[2]!.ptr, 'the freed 4 KiB block is reused');
    assert.equal(again.dirty, true, 'and reported as holding old data');
  });

  test('freed neighbours merge, and a block freed at the top lowers the top', () => {
    const { a } = space(1 << 30);
    const x = a.alloc(1000)!.ptr;
    const y = a.alloc(1000)!.ptr;
    const z = a.alloc(1000)!.ptr;
    const keep = a.alloc(64)!.ptr;
    a.free(x, 1000);
    a.free(z, 1000);
    assert.deepEqual(a.freeBytes(), { bytes: 2048, blocks: 2 });
    a.free(y, 1000);
    assert.deepEqual(a.freeBytes(), { bytes: 3072, blocks: 1 }, 'x, y and z merged into one block');
    assert.equal(a.alloc(3000)!.ptr, x, 'which holds a request as large as all three');
    a.free(x, 3000);
    a.free(keep, 64);
    assert.equal(a.span, 0, 'everything freed: the top is back at the base');
    assert.deepEqual(a.freeBytes(), { bytes: 0, blocks: 0 });
  });

  test('the space grows when nothing free fits, and null comes back when it cannot grow', () => {
    const { a, grows } = space(1 << 20);
    const big = a.alloc(300_000)!;
    assert.equal(big.dirty, false, 'fresh memory is zero');
    assert.ok(grows.length > 0 && grows.at(-1)! >= HEAP_BASE + 300_000);
    assert.equal(a.alloc(2 << 20), null, 'more than the limit');
    assert.ok(a.alloc(100_000), 'smaller requests still succeed');
  });
});

describe('CPU tensors in the WebAssembly heap', () => {
  const make = (b: CpuBackend, data: Float32Array) => new Tensor([data.length], 'f32', new StorageRef(b, b.upload(data)));

  test('tensors live in the heap, zero-filled when allocated, and memoryBytes counts them exactly', () => {
    const b = new CpuBackend({ runtime: { threads: 1 } });
    assert.equal(b.kernelInfo().kernels, 'wasm');
    const s = b.alloc('f32', 1000) as CpuStorage;
    assert.ok(s.heap, 'in the heap');
    assert.ok((s.data as Float32Array).every((v) => v === 0));
    s.data.fill(7);
    const h = b.uploadHalf!(new Uint16Array(5));
    assert.equal(b.memoryBytes(), 4000 + 12, '1000 floats and 5 halves (three 32-bit words)');
    b.free(s);
    const again = b.alloc('f32', 1000) as CpuStorage;
    assert.equal(again.ptr, s.ptr, 'the block is reused');
    assert.ok((again.data as Float32Array).every((v) => v === 0), 'and zero-filled again');
    b.free(again);
    b.free(h);
    assert.equal(b.memoryBytes(), 0);
  });

  test('a tensor that does not fit in the heap becomes a JavaScript array and still computes', () => {
    const b = new CpuBackend({ runtime: { threads: 1, initialBytes: 1 << 20, maximumPages: 64 } }); // a 4 MiB heap
    const big = randomArray(2_000_000, 3); // 8 MB
    const t = make(b, big);
    assert.equal((t.storage as CpuStorage).heap, null, 'outside the heap');
    const small = make(b, new Float32Array([1, 2, 3]));
    assert.ok((small.storage as CpuStorage).heap, 'small tensors still go to the heap');
    const y = b.affine(t, 2, 1);
    assert.equal((y.storage as CpuStorage).heap, null);
    assert.equal(y.dataSync()[5], Math.fround(big[5]! * 2 + 1));
    for (const x of [t, small, y]) x.dispose();
    assert.equal(b.memoryBytes(), 0);
  });

  test('with an unshared memory, views taken after the memory grew see the same values', () => {
    const b = new CpuBackend({ runtime: { shared: false, initialBytes: 1 << 17 } });
    assert.equal(b.kernelInfo().sharedMemory, false);
    assert.equal(b.kernelInfo().threads, 1);
    const x = make(b, Float32Array.from({ length: 1000 }, (_, i) => i));
    const generation = b.memory.runtime!.heap.generation;
    const filler = Array.from({ length: 20 }, () => make(b, new Float32Array(100_000)));
    assert.ok(b.memory.runtime!.heap.generation > generation, 'the memory grew');
    assert.equal(x.dataSync()[999], 999);
    assert.equal(b.affine(x, 1, 1).dataSync()[999], 1000);
    for (const f of filler) f.dispose();
  });
});
