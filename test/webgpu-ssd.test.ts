/**
 * WebGPU's fused chunked SSD forward (Backend.ssdChunkedForward, kernels/ssd.ts) against the
 * token-by-token recurrence and the composed chunked ops: outputs and last state, for sequences
 * that are not a multiple of the chunk, a chunk longer than the sequence, several heads per group
 * and a group per head, with and without an initial state and D, and shapes that span several
 * blocks of the kernels (head dim > 32, state > 64 and not a multiple of 16, chunk > 32 rows), with
 * the scores shared by a group's heads and computed per head; each case with the v1 kernels and with
 * MAMBA_TS_SSD_FWD=v2's (kernels/ssd-v2.ts: 64 × 64 blocks, a cumsum scan of 256 tokens), checking
 * which set ran; and v2 with MAMBA_TS_SSD_SCORES=k4|k2 (kernels/ssd-scores-split.ts) on shapes of its
 * own, checking that its kernel ran.
 * Also that ssdChunked takes the fused path when nothing is recorded and when a gradient is (unless
 * MAMBA_TS_SSD_BACKWARD=composed), and that a Mamba-2 model's prefill on WebGPU takes it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { markLeaf } from '../src/autograd/tape.js';
import { getBackend } from '../src/backend/registry.js';
import { Mamba2Config } from '../src/models/mamba2/config.js';
import { initMamba2Weights } from '../src/models/mamba2/init.js';
import { Mamba2ForCausalLM } from '../src/models/mamba2/modeling.js';
import { ssdChunked, ssdSequential, tensor, type SsdOptions, type SsdResult } from '../src/ops/index.js';
import type { WebGpuBackend } from '../src/backend/webgpu/index.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { availableDevices } from './devices.js';
import { launchedKernels } from './gpu-launches.js';
import { assertClose } from './helpers.js';
import { ssdInputData, type SsdInputData, type SsdShape } from './ssd-inputs.js';

interface Case extends SsdShape {
  T: number;
  initial: boolean;
  withD: boolean;
}

const CASES: Case[] = [
  { Bt: 2, L: 13, H: 4, P: 3, G: 2, N: 5, T: 4, initial: false, withD: true }, // L = 3·4 + 1
  { Bt: 1, L: 10, H: 6, P: 2, G: 3, N: 4, T: 3, initial: true, withD: false },
  { Bt: 2, L: 5, H: 2, P: 4, G: 1, N: 3, T: 8, initial: true, withD: true }, // one chunk, longer than L
  { Bt: 1, L: 16, H: 4, P: 2, G: 4, N: 2, T: 4, initial: false, withD: false }, // a group per head
  { Bt: 1, L: 1, H: 2, P: 5, G: 1, N: 6, T: 4, initial: true, withD: true }, // one token
  // Two chunks (the second partial), each of 2 row blocks and several source tiles; head dim
  // over two blocks; state over two blocks and not a multiple of the 16-wide slices.
  // Heads sharing a group take its scores from a buffer of them; this shape checks that path.
  { Bt: 1, L: 75, H: 4, P: 36, G: 2, N: 70, T: 40, initial: true, withD: true },
  // A group per head: each head scores its own pairs in the output kernel, here over several blocks.
  { Bt: 2, L: 70, H: 2, P: 33, G: 2, N: 20, T: 40, initial: true, withD: false },
  // v2's 64 × 64 blocks: a chunk of 3 row blocks (and a partial second chunk), head dim and state
  // over two blocks and not multiples of 4 or 16.
  { Bt: 1, L: 150, H: 2, P: 70, G: 1, N: 73, T: 136, initial: true, withD: true },
  // A group per head over several v2 blocks, two sequences.
  { Bt: 2, L: 140, H: 2, P: 65, G: 2, N: 17, T: 130, initial: false, withD: true },
  // A chunk longer than v2's cumsum scan (256 tokens), carried from one stretch to the next.
  { Bt: 1, L: 300, H: 2, P: 4, G: 2, N: 8, T: 280, initial: true, withD: false },
];

/** The kernels MAMBA_TS_SSD_FWD selects: v1 (=v1) or v2 (unset: kernels/ssd-v2.ts, the default). */
const VARIANTS = ['v1', 'v2'] as const;
type Variant = (typeof VARIANTS)[number];

/** Runs `fn` with the switch `name` set to `value` (undefined: unset), and the keys of the kernels it launched. */
function withSwitch<R>(name: string, value: string | undefined, fn: () => R): { result: R; keys: string[] } {
  const before = process.env[name];
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
  try {
    let result: R | undefined;
    const keys = launchedKernels(getBackend('webgpu') as WebGpuBackend, () => {
      result = fn();
    });
    return { result: result as R, keys };
  } finally {
    if (before === undefined) delete process.env[name];
    else process.env[name] = before;
  }
}

/** Runs `fn` with MAMBA_TS_SSD_FWD set for `variant`, and the keys of the kernels it launched. */
const withVariant = <R>(variant: Variant, fn: () => R) => withSwitch('MAMBA_TS_SSD_FWD', variant === 'v1' ? 'v1' : undefined, fn);

function inputs(c: Case, seed: number): { x: Tensor; dt: Tensor; A: Tensor; B: Tensor; C: Tensor; o: SsdOptions } {
  const t = (v: SsdInputData) => tensor(v.data, v.shape, { device: 'webgpu' });
  const d = ssdInputData(c, seed);
  return { x: t(d.x), dt: t(d.dt), A: t(d.A), B: t(d.B), C: t(d.C), o: { D: c.withD ? t(d.D) : null, initialState: c.initial ? t(d.h0) : null } };
}

/** Runs `fn` with the backend's fused forward counted (on) or hidden (off); returns the count. */
async function withFused<R>(on: boolean, fn: () => R): Promise<{ result: R; ran: number }> {
  const backend = getBackend('webgpu');
  const original = backend.ssdChunkedForward;
  assert.ok(original, 'the WebGPU backend has a fused SSD forward');
  let ran = 0;
  backend.ssdChunkedForward = on
    ? (i) => {
        const r = original.call(backend, i);
        if (r) ran++;
        return r;
      }
    : undefined;
  try {
    return { result: fn(), ran };
  } finally {
    // The instance property shadowed the prototype's method.
    delete (backend as { ssdChunkedForward?: unknown }).ssdChunkedForward;
  }
}

async function read(r: SsdResult): Promise<{ out: Float32Array; state: Float32Array }> {
  const out = Float32Array.from(await r.out.data());
  const state = Float32Array.from(await r.lastState.data());
  r.out.dispose();
  r.lastState.dispose();
  return { out, state };
}

for (const [n, c] of CASES.entries()) for (const variant of VARIANTS) {
  const name = `Bt=${c.Bt} L=${c.L} H=${c.H} P=${c.P} G=${c.G} N=${c.N} chunk=${c.T}${c.initial ? ', initial state' : ''}${c.withD ? ', D' : ''}`;
  test(`WebGPU fused SSD forward (${variant} kernels) equals the recurrence and the composed chunks: ${name}`, async (t) => {
    if (!(await availableDevices()).includes('webgpu')) return t.skip('no WebGPU adapter');
    const i = inputs(c, 10 * n + 1);
    // withFused runs its function before its first await, so the launches are those of this call.
    const run = withVariant(variant, () => withFused(true, () => ssdChunked(i.x, i.dt, i.A, i.B, i.C, c.T, i.o)));
    const fused = await run.result;
    const keys = run.keys;
    assert.equal(fused.ran, 1, 'the fused forward ran');
    // The wrong set of kernels gives the same numbers: check which ran.
    const v2Keys = ['ssd_cumsum_v2', 'ssd_chunk_state_v2', 'ssd_carry', 'ssd_scores_v2', 'ssd_output_v2'];
    if (variant === 'v2') assert.deepEqual(keys, v2Keys, 'the v2 kernels ran');
    else assert.ok(!keys.some((k) => k.endsWith('_v2')), `no v2 kernel ran: ${keys.join(', ')}`);
    const got = await read(fused.result);
    const composed = await withFused(false, () => ssdChunked(i.x, i.dt, i.A, i.B, i.C, c.T, i.o));
    const viaOps = await read(composed.result);
    const ref = await read(ssdSequential(i.x, i.dt, i.A, i.B, i.C, i.o));
    assert.equal(got.out.length, c.Bt * c.L * c.H * c.P);
    assertClose('out vs sequential', got.out, ref.out, 1e-4);
    assertClose('last state vs sequential', got.state, ref.state, 1e-4);
    assertClose('out vs composed', got.out, viaOps.out, 1e-4);
    assertClose('last state vs composed', got.state, viaOps.state, 1e-4);
    for (const x of [i.x, i.dt, i.A, i.B, i.C, i.o.D, i.o.initialState]) x?.dispose();
  });
}

// MAMBA_TS_SSD_SCORES=k4|k2 (kernels/ssd-scores-split.ts): v2's step 4a through 32 × 32 blocks with
// N split over 4 or 2 K groups in the workgroup. Shapes: chunks smaller than a block, of several
// blocks, equal to 256 and past it; L not a multiple of the chunk; several groups, and one group
// shared by several heads; N below one step of 32, not a multiple of 16, and exactly 4 steps.
const SPLIT_CASES: Case[] = [
  { Bt: 2, L: 13, H: 4, P: 3, G: 2, N: 5, T: 4, initial: false, withD: true },
  { Bt: 1, L: 150, H: 2, P: 70, G: 1, N: 73, T: 136, initial: true, withD: true },
  { Bt: 1, L: 300, H: 3, P: 8, G: 1, N: 40, T: 256, initial: true, withD: true },
  { Bt: 1, L: 512, H: 2, P: 4, G: 1, N: 128, T: 256, initial: false, withD: false },
  { Bt: 2, L: 140, H: 4, P: 16, G: 2, N: 17, T: 130, initial: false, withD: true },
  { Bt: 1, L: 300, H: 2, P: 4, G: 2, N: 8, T: 280, initial: true, withD: false },
];

/** Runs `fn` with MAMBA_TS_SSD_SCORES set to `value` (undefined: unset), and the kernels it launched. */
const withScores = <R>(value: string | undefined, fn: () => R) => withSwitch('MAMBA_TS_SSD_SCORES', value, fn);

for (const split of ['k4', 'k2'] as const) {
  test(`WebGPU fused SSD forward with MAMBA_TS_SSD_SCORES=${split} (split scores kernel) equals the recurrence and the default scores`, async (t) => {
    if (!(await availableDevices()).includes('webgpu')) return t.skip('no WebGPU adapter');
    for (const [n, c] of SPLIT_CASES.entries()) {
      const name = `Bt=${c.Bt} L=${c.L} H=${c.H} P=${c.P} G=${c.G} N=${c.N} chunk=${c.T}`;
      // Seeds of their own, and the split kernel run first: a scores buffer back from the pool
      // holds no earlier run's scores of these inputs, so a pair it failed to write shows.
      const i = inputs(c, 1000 + 100 * n + (split === 'k4' ? 0 : 50));
      const run = withScores(split, () => withFused(true, () => ssdChunked(i.x, i.dt, i.A, i.B, i.C, c.T, i.o)));
      const fused = await run.result;
      assert.equal(fused.ran, 1, `the fused forward ran: ${name}`);
      const want = ['ssd_cumsum_v2', 'ssd_chunk_state_v2', 'ssd_carry', `ssd_scores_split_${split}`, 'ssd_output_v2'];
      assert.deepEqual(run.keys, want, `the split scores kernel ran in v2's place: ${name}`);
      const got = await read(fused.result);
      const plain = withScores(undefined, () => withFused(true, () => ssdChunked(i.x, i.dt, i.A, i.B, i.C, c.T, i.o)));
      assert.ok(plain.keys.includes('ssd_scores_v2'), 'unset, v2 scores');
      const v2 = await read((await plain.result).result);
      const ref = await read(ssdSequential(i.x, i.dt, i.A, i.B, i.C, i.o));
      assertClose(`out vs sequential: ${name}`, got.out, ref.out, 1e-4);
      assertClose(`last state vs sequential: ${name}`, got.state, ref.state, 1e-4);
      // Only the order of the score sums differs from the default kernels.
      assertClose(`out vs v2's scores: ${name}`, got.out, v2.out, 1e-5);
      assertClose(`last state vs v2's scores: ${name}`, got.state, v2.state, 1e-5);
      for (const x of [i.x, i.dt, i.A, i.B, i.C, i.o.D, i.o.initialState]) x?.dispose();
    }
  });
}

test('WebGPU ssdChunked keeps the composed (differentiable) path while a gradient is recorded with MAMBA_TS_SSD_BACKWARD=composed, else runs the fused forward', async (t) => {
  if (!(await availableDevices()).includes('webgpu')) return t.skip('no WebGPU adapter');
  const c = CASES[0]!;
  const i = inputs(c, 99);
  markLeaf(i.x, { grad: null });
  const ref = await read(ssdSequential(i.x, i.dt, i.A, i.B, i.C, i.o));
  const before = process.env['MAMBA_TS_SSD_BACKWARD'];
  for (const mode of ['composed', 'fused'] as const) {
    if (mode === 'composed') process.env['MAMBA_TS_SSD_BACKWARD'] = 'composed';
    else delete process.env['MAMBA_TS_SSD_BACKWARD'];
    try {
      const { result, ran } = await withFused(true, () => ssdChunked(i.x, i.dt, i.A, i.B, i.C, c.T, i.o));
      assert.equal(ran, mode === 'fused' ? 1 : 0, `the fused forward ran (${mode})`);
      const got = await read(result);
      assertClose(`out (${mode})`, got.out, ref.out, 1e-4);
    } finally {
      if (before === undefined) delete process.env['MAMBA_TS_SSD_BACKWARD'];
      else process.env['MAMBA_TS_SSD_BACKWARD'] = before;
    }
  }
});

test('WebGPU Mamba-2 prefill runs the fused SSD forward in every layer, with the logits of the composed ops', async (t) => {
  if (!(await availableDevices()).includes('webgpu')) return t.skip('no WebGPU adapter');
  const m = new Mamba2ForCausalLM(Mamba2Config.create({ hidden_size: 32, head_dim: 8, n_groups: 2, state_size: 16, chunk_size: 4, num_hidden_layers: 2, vocab_size: 40 }));
  initMamba2Weights(m, 3, 'webgpu');
  const ids = [
    [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5],
    [2, 7, 1, 8, 2, 8, 1, 8, 2, 8, 4],
  ];
  const prefill = async (on: boolean) => {
    const { result, ran } = await withFused(on, () => m.nextLogits(ids, m.createCache(2)));
    const logits = Float32Array.from(await result.data());
    result.dispose();
    return { logits, ran };
  };
  const fused = await prefill(true);
  assert.equal(fused.ran, 2, 'one fused SSD forward per layer');
  const composed = await prefill(false);
  assertClose('logits', fused.logits, composed.logits, 1e-4);
  m.dispose();
});
