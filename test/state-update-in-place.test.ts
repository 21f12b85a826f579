/**
 * selectiveStateUpdate with inPlace (a replayed decode step keeps its state buffers): the same
 * output and new state as the usual form, written over the given state, which is returned as it;
 * on every device (WebGPU updates in place, the CPU's new state is copied back by the op).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ops from '../src/ops/index.js';
import { availableDevices } from './devices.js';
import { randomArray } from './helpers.js';

for (const device of await availableDevices()) {
  test(`${device}: selectiveStateUpdate in place equals the usual form`, async () => {
    const [B, D, N] = [2, 5, 4];
    const o = { device };
    const t = (shape: number[], seed: number, lo = -1, hi = 1) => ops.tensor(randomArray(shape.reduce((a, b) => a * b, 1), seed, lo, hi), shape, o);
    const state = t([B, D, N], 1);
    const [x, dt, z] = [t([B, D], 2), t([B, D], 3), t([B, D], 4)];
    const A = t([D, N], 5, -2, -0.1);
    const [Bm, Cm] = [t([B, N], 6), t([B, N], 7)];
    const [Dv, bias] = [t([D], 8), t([D], 9)];
    const opts = { D: Dv, z, dtBias: bias, dtSoftplus: true };
    const usual = ops.selectiveStateUpdate(state, x, dt, A, Bm, Cm, opts);
    const inPlace = ops.selectiveStateUpdate(state, x, dt, A, Bm, Cm, { ...opts, inPlace: true });
    assert.equal(inPlace.state, state, 'the given state is returned');
    assert.deepEqual(await inPlace.out.data(), await usual.out.data());
    assert.deepEqual(await state.data(), await usual.state.data());
    for (const tt of [state, x, dt, z, A, Bm, Cm, Dv, bias, usual.out, usual.state, inPlace.out]) tt.dispose();
  });
}
