/**
 * The WebGPU buffer pool (backend/webgpu/buffer-pool.ts) on a real device: buffers come back by
 * size class; when it is full, releasing a buffer evicts the least recently released ones (which
 * the caller destroys) instead of refusing the new one — a pool full of an earlier shape's buffers
 * turned every later temporary into a destroy, which Dawn frees only once the GPU catches up.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getBackend } from '../src/backend/registry.js';
import type { WebGpuBackend } from '../src/backend/webgpu/index.js';
import { BufferPool } from '../src/backend/webgpu/buffer-pool.js';
import { availableDevices } from './devices.js';

const devices = await availableDevices();

test('the pool reuses by size class and evicts the least recently released when full', { skip: !devices.includes('webgpu') && 'no WebGPU adapter' }, () => {
  const device = (getBackend('webgpu') as WebGpuBackend).ctx.device;
  const pool = new BufferPool(device, GPUBufferUsage.STORAGE, 4096);
  const [a, b, c] = [pool.acquire(1024), pool.acquire(1000), pool.acquire(2048)];
  assert.equal(pool.heldBytes(), 4096, '1000 bytes round up to the 1024 class');
  for (const x of [a, b, c]) assert.deepEqual(pool.release(x), [], 'room for it');
  assert.equal(pool.pooledBytes(), 4096);
  assert.equal(pool.acquire(1024), b, 'the most recently released of the class comes back first');
  assert.deepEqual(pool.release(b), []);
  // 3 KiB more than the pool holds: the oldest released (a, then c) make room; b stays.
  const d = pool.acquire(3072);
  assert.notEqual(d, a);
  assert.deepEqual(pool.release(d), [a, c]);
  assert.equal(pool.pooledBytes(), 1024 + 3072);
  assert.equal(pool.acquire(3072), d);
  assert.equal(pool.acquire(1024), b);
  // A buffer larger than the whole pool is not kept.
  const big = pool.acquire(8192);
  assert.deepEqual(pool.release(big), [big]);
  for (const x of [a, c, big]) x.destroy();
  assert.deepEqual([pool.release(d), pool.release(b)], [[], []]);
  pool.destroyAll();
  assert.equal(pool.pooledBytes(), 0);
  assert.equal(pool.heldBytes(), 0);
});
