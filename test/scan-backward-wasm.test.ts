/**
 * The CPU's WebAssembly scan backward (four channels per SIMD lane group, threads over blocks of
 * channels, chunked recomputation) against the TypeScript reference (scan-backward.ts, in double
 * precision, itself checked by finite differences), on shapes that exercise its edges: L = 1, L not
 * a multiple of the chunk, a partial last tile, N = 1; and bit-identical on 1 and 3 threads.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { ScanGradients, ScanInputs } from '../src/backend/backend.js';
import { selectiveScanBackward } from '../src/backend/cpu/scan-backward.js';
import { cpuKernelInfo, getBackend, setCpuThreads } from '../src/backend/registry.js';
import { tensor } from '../src/ops/create.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { assertClose } from './helpers.js';
import { scanBackwardData } from './scan-backward-data.js';

const threadsBefore = cpuKernelInfo().threads;
after(() => setCpuThreads(threadsBefore));

interface Case { B: number; L: number; D: number; N: number; all: boolean; softplus: boolean }
const cases: Case[] = [
  { B: 1, L: 1, D: 4, N: 16, all: false, softplus: true },
  { B: 2, L: 150, D: 40, N: 5, all: true, softplus: true },
  { B: 3, L: 64, D: 36, N: 16, all: false, softplus: false },
  { B: 1, L: 200, D: 8, N: 1, all: true, softplus: false },
  { B: 1, L: 129, D: 96, N: 16, all: true, softplus: true },
];

/** Every optional input present (D, z, Δ bias, initial state, last-state gradient), or none. */
function inputs(c: Case, seed: number) {
  const all = c.all;
  return scanBackwardData({ ...c, withD: all, z: all, bias: all, h0: all, gLast: all }, seed);
}

const NAMES = { du: 'du', ddelta: 'ddelta', dA: 'dA', dB: 'dB', dC: 'dC', dD: 'dD', dz: 'dz', ddeltaBias: 'dbias', dInitialState: 'dh0' } as const;

async function onBackend(c: Case, x: ReturnType<typeof inputs>): Promise<Record<string, Float32Array | null>> {
  const { B, L, D, N } = c;
  const made: Tensor[] = [];
  const t = (v: Float32Array | null, shape: number[]) => {
    if (!v) return null;
    const r = tensor(v, shape, { device: 'cpu' });
    made.push(r);
    return r;
  };
  const i: ScanInputs = {
    u: t(x.u, [B, L, D])!, delta: t(x.delta, [B, L, D])!, A: t(x.A, [D, N])!, B: t(x.B, [B, L, N])!, C: t(x.C, [B, L, N])!,
    D: t(x.D, [D]), z: t(x.z, [B, L, D]), deltaBias: t(x.deltaBias, [D]), initialState: t(x.initialState, [B, D, N]),
  };
  const g: ScanGradients = getBackend('cpu').selectiveScanBackward!(i, { deltaSoftplus: c.softplus }, t(x.gOut, [B, L, D])!, t(x.gLast, [B, D, N]));
  const out: Record<string, Float32Array | null> = {};
  for (const k of Object.keys(NAMES) as (keyof typeof NAMES)[]) {
    out[k] = g[k] ? ((await g[k]!.data()) as Float32Array) : null;
    g[k]?.dispose();
  }
  for (const m of made) m.dispose();
  return out;
}

for (const [k, c] of cases.entries()) {
  test(`wasm scan backward: B=${c.B} L=${c.L} D=${c.D} N=${c.N} ${c.all ? 'every optional input' : 'no optional input'}${c.softplus ? ', softplus' : ''}`, async () => {
    assert.equal(cpuKernelInfo().kernels, 'wasm');
    const x = inputs(c, 100 * k + 3);
    setCpuThreads(1);
    const one = await onBackend(c, x);
    setCpuThreads(3);
    const three = await onBackend(c, x);
    const ref = selectiveScanBackward(x, { batch: c.B, L: c.L, D: c.D, N: c.N }, c.softplus, x.gOut, x.gLast);
    for (const [name, refName] of Object.entries(NAMES)) {
      assert.deepEqual(three[name], one[name], `${name}: 1 vs 3 threads`);
      const got = one[name];
      const present = ['du', 'ddelta', 'dA', 'dB', 'dC'].includes(name) || c.all;
      assert.equal(got !== null, present, `${name} present`);
      if (got) assertClose(name, got, ref[refName], 1e-4);
    }
  });
}
