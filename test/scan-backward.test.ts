/**
 * The WebGPU fused scan backward against the CPU one (itself checked by finite differences in
 * autograd.test.ts), on shapes that exercise its edges: L = 1, L not a multiple of the chunk and
 * many chunks, D not a multiple of the channel groups, N from 1 to 130, and every optional input
 * (D, z, Δ bias, initial state, gradient of the last state) present or absent.
 */
import { test } from 'node:test';
import type { Backend, ScanGradients, ScanInputs } from '../src/backend/backend.js';
import { getBackend, initWebGPU, type DeviceName } from '../src/backend/registry.js';
import { tensor } from '../src/ops/create.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { availableDevices } from './devices.js';
import { assertClose } from './helpers.js';
import { scanBackwardData, type ScanBackwardCase } from './scan-backward-data.js';

type Case = ScanBackwardCase;

const cases: Case[] = [
  { B: 1, L: 1, D: 3, N: 1, withD: true, z: true, bias: true, h0: true, gLast: true, softplus: true },
  { B: 2, L: 1, D: 5, N: 16, withD: false, z: false, bias: false, h0: false, gLast: false, softplus: false },
  { B: 2, L: 37, D: 70, N: 16, withD: true, z: true, bias: true, h0: false, gLast: true, softplus: true },
  { B: 3, L: 37, D: 7, N: 64, withD: false, z: true, bias: false, h0: true, gLast: false, softplus: true },
  { B: 1, L: 200, D: 130, N: 1, withD: true, z: false, bias: true, h0: true, gLast: true, softplus: false },
  { B: 3, L: 200, D: 33, N: 16, withD: true, z: true, bias: true, h0: true, gLast: true, softplus: true },
  { B: 2, L: 200, D: 67, N: 64, withD: true, z: false, bias: false, h0: false, gLast: false, softplus: true },
  { B: 1, L: 200, D: 9, N: 5, withD: false, z: true, bias: true, h0: true, gLast: false, softplus: false },
  { B: 2, L: 40, D: 3, N: 130, withD: true, z: true, bias: true, h0: true, gLast: true, softplus: true },
];

type Data = Record<string, Float32Array | null>;

function shapes(c: Case): Record<string, number[]> {
  const { B, L, D, N } = c;
  return { u: [B, L, D], delta: [B, L, D], A: [D, N], B: [B, L, N], C: [B, L, N], D: [D], z: [B, L, D], deltaBias: [D], initialState: [B, D, N], gOut: [B, L, D], gLast: [B, D, N] };
}

function run(backend: Backend, device: DeviceName, c: Case, data: Data): { g: ScanGradients; made: Tensor[] } {
  const sh = shapes(c);
  const made: Tensor[] = [];
  const t = (k: string): Tensor | null => {
    const v = data[k];
    if (!v) return null;
    const x = tensor(v, sh[k]!, { device });
    made.push(x);
    return x;
  };
  const i: ScanInputs = { u: t('u')!, delta: t('delta')!, A: t('A')!, B: t('B')!, C: t('C')!, D: t('D'), z: t('z'), deltaBias: t('deltaBias'), initialState: t('initialState') };
  const g = backend.selectiveScanBackward!(i, { deltaSoftplus: c.softplus }, t('gOut')!, t('gLast'));
  return { g, made };
}

const GRADS = ['du', 'ddelta', 'dA', 'dB', 'dC', 'dD', 'dz', 'ddeltaBias', 'dInitialState'] as const;
const PRESENT: Record<(typeof GRADS)[number], (c: Case) => boolean> = {
  du: () => true, ddelta: () => true, dA: () => true, dB: () => true, dC: () => true,
  dD: (c) => c.withD, dz: (c) => c.z, ddeltaBias: (c) => c.bias, dInitialState: (c) => c.h0,
};

const hasGpu = (await availableDevices()).includes('webgpu');

for (const [k, c] of cases.entries()) {
  const flags = (['withD', 'z', 'bias', 'h0', 'gLast', 'softplus'] as const).filter((f) => c[f]).join(',') || 'none';
  test(`webgpu scan backward equals the CPU's: B=${c.B} L=${c.L} D=${c.D} N=${c.N} [${flags}]`, async (t) => {
    if (!hasGpu) return t.skip('no WebGPU adapter');
    const gpu = await initWebGPU();
    const data = scanBackwardData(c, 1000 * k + 17);
    const ref = run(getBackend('cpu'), 'cpu', c, data);
    const got = run(gpu, 'webgpu', c, data);
    for (const name of GRADS) {
      const [a, b] = [got.g[name], ref.g[name]];
      if (!PRESENT[name](c)) {
        if (a || b) throw new Error(`${name}: expected null (the input is absent)`);
        continue;
      }
      if (!a || !b) throw new Error(`${name}: missing`);
      if (a.shape.join() !== b.shape.join()) throw new Error(`${name}: shape [${a.shape}] vs [${b.shape}]`);
      assertClose(name, (await a.data()) as Float32Array, (await b.data()) as Float32Array, 1e-4);
    }
    for (const r of [ref, got]) {
      for (const x of [...r.made, ...GRADS.map((n) => r.g[n])]) x?.dispose();
    }
  });
}
