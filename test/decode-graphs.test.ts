/**
 * The policy of the decode recordings a model keeps between generations (MambaDecodeGraphs): one
 * slot per batch size and picker, leased to one generation at a time, at most two kept (the least
 * recently used goes), none past the memory bound, and a new slot when the state shapes change.
 * The replays themselves are tested on WebGPU in decode-stepper.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MambaDecodeGraphs } from '../src/models/mamba/decode-graphs.js';
import type { MixerState } from '../src/nn/mamba-mixer.js';
import { zeros } from '../src/ops/create.js';
import { liveTensorCount } from '../src/tensor/memory.js';

const states = (B: number, E = 8, layers = 2): MixerState[] => Array.from({ length: layers }, () => ({ conv: zeros([B, E, 3]), ssm: zeros([B, E, 4]) }));

test('one lease per slot at a time; slots per batch size and picker; two kept, least recently used dropped', () => {
  const live0 = liveTensorCount();
  const g = new MambaDecodeGraphs();
  const s1 = states(1);
  const a = g.lease(1, 'argmax', s1, 'w');
  assert.ok(a);
  assert.equal(g.lease(1, 'argmax', s1, 'w'), null, 'leased: a concurrent generation records its own');
  g.release(a);
  assert.equal(g.lease(1, 'argmax', s1, 'w'), a, 'the same slot again');
  g.release(a);
  const other = g.lease(1, 'sample', s1, 'w');
  assert.ok(other && other !== a, 'another picker, another slot');
  g.release(other);
  const b3 = g.lease(3, 'argmax', states(3), 'w');
  assert.ok(b3);
  g.release(b3);
  // Three slots were made; the least recently leased (batch 1, argmax) went.
  assert.equal(g.memoryBytes(), 2 * 2 * (1 + 3) * 8 * 7 * 4);
  const again = g.lease(1, 'argmax', s1, 'w');
  assert.ok(again && again !== a);
  // Other state shapes (another config) at the same key: a new slot.
  g.release(again);
  const wider = g.lease(1, 'argmax', states(1, 16), 'w');
  assert.ok(wider && wider !== again);
  assert.equal(wider.sets[0][0]!.ssm.shape[1], 16);
  g.release(wider);
  g.dispose();
  for (const s of [...s1]) {
    s.conv.dispose();
    s.ssm.dispose();
  }
  assert.equal(g.memoryBytes(), 0);
  // Only the states made here for the leases' shapes are left (states(3), states(1, 16)).
  assert.equal(liveTensorCount() - live0, 2 * 2 * 2);
});

test('no slot past the memory bound, nor with MAMBA_TS_KEEP_DECODE_GRAPHS=0', () => {
  const s = states(2);
  const bytes = 2 * 2 * 2 * 8 * 7 * 4; // two sets of two layers
  assert.equal(new MambaDecodeGraphs(bytes - 1).lease(2, 'argmax', s, 'w'), null);
  const g = new MambaDecodeGraphs(bytes);
  const slot = g.lease(2, 'argmax', s, 'w');
  assert.ok(slot);
  g.release(slot);
  g.dispose();
  assert.equal(slot.ids.isDisposed, true);
  process.env['MAMBA_TS_KEEP_DECODE_GRAPHS'] = '0';
  try {
    assert.equal(new MambaDecodeGraphs().lease(2, 'argmax', s, 'w'), null);
  } finally {
    delete process.env['MAMBA_TS_KEEP_DECODE_GRAPHS'];
  }
});

test('clear() while a generation holds a slot: the slot is freed at its release, not under the generation', () => {
  const live0 = liveTensorCount();
  const g = new MambaDecodeGraphs();
  const s = states(1);
  const held = g.lease(1, 'argmax', s, 'w')!;
  const idle = g.lease(2, 'argmax', states(2), 'w')!;
  g.release(idle);
  g.clear();
  assert.equal(idle.ids.isDisposed, true);
  assert.equal(held.ids.isDisposed, false, 'still decoding');
  const fresh = g.lease(1, 'argmax', s, 'w');
  assert.ok(fresh && fresh !== held, 'a new slot under the same key');
  g.release(held);
  assert.equal(held.ids.isDisposed, true);
  assert.equal(fresh.ids.isDisposed, false, 'the new slot under that key is kept');
  g.release(fresh);
  g.dispose();
  for (const t of s) {
    t.conv.dispose();
    t.ssm.dispose();
  }
  assert.equal(liveTensorCount() - live0, 2 * 2 * 1, 'only states(2) made here is left');
});

test('over two slots, an idle one goes before one in use (freed at its release)', () => {
  const g = new MambaDecodeGraphs();
  const inUse = g.lease(1, 'argmax', states(1), 'w')!; // least recently leased, but decoding
  const idle = g.lease(2, 'argmax', states(2), 'w')!;
  g.release(idle);
  const third = g.lease(3, 'argmax', states(3), 'w')!;
  assert.equal(idle.ids.isDisposed, true, 'the idle slot went');
  assert.equal(inUse.ids.isDisposed, false);
  g.release(inUse);
  assert.equal(inUse.ids.isDisposed, false, 'still kept');
  assert.equal(g.lease(1, 'argmax', states(1), 'w'), inUse);
  g.release(inUse);
  g.release(third);
  g.dispose();
});
