/**
 * Recorded device work (Backend.recordWork; WebGPU's LaunchGraph): a replay redoes the recorded
 * launches and copies on the same buffers; recordings that upload host data are refused; a failed
 * recording leaves nothing behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getBackend } from '../src/backend/registry.js';
import { add, tensor, writeSlice, zeros } from '../src/ops/index.js';
import { liveTensorCount } from '../src/tensor/memory.js';
import { availableDevices } from './devices.js';

async function webgpu(t: { skip(reason: string): void }) {
  if (!(await availableDevices()).includes('webgpu')) {
    t.skip('no WebGPU adapter');
    return null;
  }
  const backend = getBackend('webgpu');
  assert.ok(backend.recordWork, 'WebGPU records work');
  return backend as typeof backend & { recordWork: NonNullable<typeof backend.recordWork> };
}

test('a replay redoes the recorded launches and copies on the same buffers', async (t) => {
  const backend = await webgpu(t);
  if (!backend) return;
  const acc = zeros([5], { device: 'webgpu' });
  const step = tensor([1, 2, 3, 4, 5], [5], { device: 'webgpu' });
  const live = liveTensorCount();
  // acc += step: a kernel into a temporary, then a copy back into acc.
  const work = backend.recordWork(() => {
    const next = add(acc, step);
    writeSlice(acc, next, 0, 0);
    next.dispose();
  });
  assert.ok(work);
  assert.equal(liveTensorCount(), live, 'the temporary is the recording\'s, not a live tensor');
  for (let i = 0; i < 3; i++) work.replay();
  assert.deepEqual(Array.from((await acc.data()) as Float32Array), [4, 8, 12, 16, 20]);
  work.dispose();
  assert.throws(() => work.replay(), /disposed/);
  acc.dispose();
  step.dispose();
});

test('a recording that uploads host data cannot be replayed, and one that throws is dropped', async (t) => {
  const backend = await webgpu(t);
  if (!backend) return;
  const acc = zeros([3], { device: 'webgpu' });
  const work = backend.recordWork(() => {
    const fresh = tensor([1, 1, 1], [3], { device: 'webgpu' }); // an upload: not part of a replay
    writeSlice(acc, fresh, 0, 0);
    fresh.dispose();
  });
  assert.equal(work, null);
  assert.throws(() => backend.recordWork(() => { throw new Error('inside'); }), /inside/);
  // Recording again works after both.
  const src = tensor([7, 8, 9], [3], { device: 'webgpu' });
  const again = backend.recordWork(() => writeSlice(acc, src, 0, 0));
  assert.ok(again);
  again.replay();
  assert.deepEqual(Array.from((await acc.data()) as Float32Array), [7, 8, 9]);
  again.dispose();
  src.dispose();
  acc.dispose();
});

test('a recording of more launches than one uniform buffer holds (1024) replays them all', async (t) => {
  const backend = await webgpu(t);
  if (!backend) return;
  const acc = zeros([4], { device: 'webgpu' });
  const one = tensor([1, 1, 1, 1], [4], { device: 'webgpu' });
  // 1300 launches with uniforms: acc += 1 each, through a temporary and a copy back.
  const work = backend.recordWork(() => {
    for (let i = 0; i < 1300; i++) {
      const next = add(acc, one);
      writeSlice(acc, next, 0, 0);
      next.dispose();
    }
  });
  assert.ok(work);
  work.replay();
  work.replay();
  assert.deepEqual(Array.from((await acc.data()) as Float32Array), [3900, 3900, 3900, 3900]);
  work.dispose();
  acc.dispose();
  one.dispose();
});

test('a new recording reuses a disposed one\'s uniforms and temporaries: cached bind groups, and open work keeps its uniforms', async (t) => {
  const backend = await webgpu(t);
  if (!backend) return;
  const stats = (backend as unknown as { ctx: { stats: { bindGroupMisses: number } } }).ctx.stats;
  const acc = zeros([5], { device: 'webgpu' });
  const step = tensor([1, 2, 3, 4, 5], [5], { device: 'webgpu' });
  const record = (a: typeof acc, s: typeof step) =>
    backend.recordWork(() => {
      const next = add(a, s);
      writeSlice(a, next, 0, 0);
      next.dispose();
    })!;
  const first = record(acc, step);
  first.replay(); // open work that reads the graph's uniforms (n = 5) ...
  first.dispose(); // ... disposed before it is submitted
  // A recording of other sizes (its uniforms differ) must not take the uniforms the open work reads.
  const small = zeros([3], { device: 'webgpu' });
  const smallStep = tensor([1, 1, 1], [3], { device: 'webgpu' });
  const other = record(small, smallStep);
  assert.deepEqual(Array.from((await acc.data()) as Float32Array), [2, 4, 6, 8, 10], 'the open replay ran with its own uniforms');
  other.dispose();
  // The same work recorded again after a dispose (its work submitted, as generate() disposes its
  // stepper after reading the last tokens) finds its bind groups in the cache.
  const again = record(acc, step);
  await backend.sync!();
  again.dispose();
  const misses = stats.bindGroupMisses;
  const third = record(acc, step);
  assert.equal(stats.bindGroupMisses, misses, 'no bind group created for a recording of the same work');
  third.replay();
  assert.deepEqual(Array.from((await acc.data()) as Float32Array), [5, 10, 15, 20, 25], "two recordings and a replay since");
  third.dispose();
  for (const x of [acc, step, small, smallStep]) x.dispose();
});
