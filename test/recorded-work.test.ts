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
