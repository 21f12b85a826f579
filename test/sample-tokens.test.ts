/**
 * sampleTokens, the draw on the device: the WebGPU kernel against the CPU reference (which is
 * host sampling's own code) for each warper and their combinations, token for token and generator
 * state bit for bit; exact cases; the distribution of many draws; bad arguments.
 *
 * The WebGPU kernel sums in float32 and the reference in float64, so the logits here are random
 * but seeded: a draw within rounding of a boundary would show up as a fixed, reproducible failure
 * (none does with these seeds).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ArgumentError } from '../src/errors.js';
import { sampleTokens, SampleTokensRows, tensor, type SampleTokensOptions, type SampleTokensRow } from '../src/ops/index.js';
import type { RecordingBackend } from '../src/backend/backend.js';
import { Rng, pickNextToken } from '../src/generation/sampler.js';
import type { DeviceName } from '../src/backend/registry.js';
import { availableDevices } from './devices.js';
import { randomArray } from './helpers.js';

const devices = await availableDevices();

/** Each row's generator state: Rng(seed + b)'s words. */
function states(B: number, seed: number): Int32Array {
  return Int32Array.from(Array.from({ length: B }, (_, b) => new Rng(seed + b).state()).flat());
}

/** `steps` draws on `device` (the state advancing in place), the ids of each and the final state. */
async function draw(device: DeviceName, logits: Float32Array, B: number, state0: Int32Array, o: SampleTokensOptions, steps = 1): Promise<{ ids: number[][]; state: Int32Array }> {
  const x = tensor(logits, [B, logits.length / B], { device });
  const s = tensor(Int32Array.from(state0), [B, 4], { device });
  const ids: number[][] = [];
  for (let i = 0; i < steps; i++) {
    const y = sampleTokens(x, s, o);
    assert.deepEqual(y.shape, [B, 1]);
    assert.equal(y.dtype, 'i32');
    ids.push(Array.from((await y.data()) as Int32Array));
    y.dispose();
  }
  const state = Int32Array.from((await s.data()) as Int32Array);
  x.dispose();
  s.dispose();
  return { ids, state };
}

/** Logits with some structure: a few likely tokens over a spread-out tail. */
function logitsOf(B: number, V: number, seed: number, scale = 3): Float32Array {
  const x = randomArray(B * V, seed, -scale, scale);
  for (let b = 0; b < B; b++) for (let j = 0; j < 4; j++) x[b * V + ((seed * 7 + b * 31 + j * 97) % V)]! += 4 + j;
  return x;
}

describe('sampleTokens on the CPU (the reference)', () => {
  test('each row is pickNextToken with doSample and a generator in that row\'s state, advanced by one draw', async () => {
    const B = 3;
    const V = 50;
    const logits = logitsOf(B, V, 5);
    const o = { temperature: 0.8, topK: 10, topP: 0.9, minP: 0.02 };
    const st = states(B, 40);
    const got = await draw('cpu', logits, B, st, o);
    for (let b = 0; b < B; b++) {
      const rng = new Rng(40 + b);
      assert.equal(got.ids[0]![b], pickNextToken(logits.subarray(b * V, (b + 1) * V), [], { doSample: true, ...o }, rng));
      assert.deepEqual(Array.from(got.state.subarray(b * 4, b * 4 + 4), (w) => w >>> 0), rng.state());
    }
  });
});

const gpu = devices.includes('webgpu');
describe('sampleTokens on WebGPU against the CPU reference', { skip: gpu ? false : 'no WebGPU adapter' }, () => {
  const combos: [string, SampleTokensOptions][] = [
    ['plain', {}],
    ['temperature', { temperature: 0.6 }],
    ['top-k', { topK: 7 }],
    ['top-p', { topP: 0.8 }],
    ['min-p', { minP: 0.05 }],
    ['all four', { temperature: 1.4, topK: 40, topP: 0.7, minP: 0.01 }],
    ['top-k and top-p', { topK: 3, topP: 0.5 }],
  ];
  const shapes: [number, number][] = [
    [1, 300],
    [3, 1000],
    [5, 77],
  ];
  for (const [name, o] of combos) {
    test(`${name}: the same tokens and generator states, several draws, B × V = ${shapes.map((s) => s.join('×')).join(', ')}`, async () => {
      for (const [B, V] of shapes) {
        const logits = logitsOf(B, V, B * 1000 + V);
        const st = states(B, V);
        const [want, got] = [await draw('cpu', logits, B, st, o, 4), await draw('webgpu', logits, B, st, o, 4)];
        assert.deepEqual(got.ids, want.ids, `${B}×${V} ids`);
        assert.deepEqual(got.state, want.state, `${B}×${V} generator states`);
      }
    });
  }

  test('a 50k vocabulary with every warper', async () => {
    const B = 2;
    const V = 50_277;
    const logits = logitsOf(B, V, 9, 6);
    const o = { temperature: 0.9, topK: 50, topP: 0.95, minP: 0.02 };
    const st = states(B, 3);
    const [want, got] = [await draw('cpu', logits, B, st, o, 2), await draw('webgpu', logits, B, st, o, 2)];
    assert.deepEqual(got.ids, want.ids);
    assert.deepEqual(got.state, want.state);
  });

  test('ties at the k-th value all stay; ties at the top-p cut go in index order', async () => {
    // Values on a grid of 0.5: many ties, at the k-th value and at the cut.
    const B = 4;
    const V = 200;
    const logits = randomArray(B * V, 77, -3, 3).map((v) => Math.round(v * 2) / 2);
    for (const o of [{ topK: 9 }, { topK: 30 }, { topP: 0.6 }, { topK: 12, topP: 0.4 }]) {
      const st = states(B, 9);
      const [want, got] = [await draw('cpu', logits, B, st, o, 4), await draw('webgpu', logits, B, st, o, 4)];
      assert.deepEqual(got.ids, want.ids, JSON.stringify(o));
    }
    // Survivors of top-k beyond what the kernel gathers into workgroup memory (1024): a large k,
    // and a small k whose k-th value is tied many times over.
    const wide = logitsOf(2, 3000, 4);
    const flatTail = new Float32Array(2 * 2000).map((_, i) => (i % 2000 < 3 ? 2 + (i % 2000) : 0));
    for (const [x, o] of [[wide, { topK: 1500, topP: 0.9 }], [flatTail, { topK: 5 }], [flatTail, { topK: 5, topP: 0.99, minP: 0.001 }]] as const) {
      const st = states(2, 5);
      const [want, got] = [await draw('cpu', x, 2, st, o, 4), await draw('webgpu', x, 2, st, o, 4)];
      assert.deepEqual(got.ids, want.ids, JSON.stringify(o));
    }
    // HF's example of ties at the cut: [0, 0, 0, 0] with top_p 0.75 removes index 0 only.
    const flat = new Float32Array(4 * 64);
    const st = states(64, 1);
    const got = await draw('webgpu', flat, 64, st, { topP: 0.75 });
    const want = await draw('cpu', flat, 64, st, { topP: 0.75 });
    assert.deepEqual(got.ids, want.ids);
    assert.ok(!got.ids[0]!.includes(0), 'index 0 is cut');
    assert.deepEqual(new Set(got.ids[0]), new Set([1, 2, 3]));
  });

  test('top-p alone, whether the candidates fit in workgroup memory or not', async () => {
    // Peaked rows (few tokens near the top): gathered. A flat row over 3000 tokens (too many to
    // gather), and a peaked row with top-p 0.99 (its tail holds more than 1%): read from memory.
    const peaked = logitsOf(2, 3000, 8);
    const flat = randomArray(2 * 3000, 8, -1, 1);
    for (const [x, o] of [[peaked, { topP: 0.7 }], [peaked, { topP: 0.99 }], [flat, { topP: 0.5 }], [flat, { topP: 0.9, temperature: 0.5 }]] as const) {
      const st = states(2, 6);
      const [want, got] = [await draw('cpu', x, 2, st, o, 4), await draw('webgpu', x, 2, st, o, 4)];
      assert.deepEqual(got.ids, want.ids, JSON.stringify(o));
    }
  });

  test('-Infinity logits get nothing, and a row with one finite logit always draws it', async () => {
    const B = 3;
    const V = 300;
    const logits = logitsOf(B, V, 21);
    for (let i = 0; i < V; i += 3) logits[i] = -Infinity; // a third of row 0
    for (let i = V; i < 2 * V; i++) if (i !== V + 123) logits[i] = -Infinity; // row 1: one finite logit
    for (const o of [{}, { topK: 150 }, { topP: 0.9, minP: 0.01 }, { topK: 5, temperature: 2 }]) {
      const st = states(B, 12);
      const [want, got] = [await draw('cpu', logits, B, st, o, 3), await draw('webgpu', logits, B, st, o, 3)];
      assert.deepEqual(got.ids, want.ids, JSON.stringify(o));
      assert.deepEqual(got.state, want.state);
      for (const step of got.ids) {
        assert.notEqual(step[0]! % 3, 0);
        assert.equal(step[1], 123);
      }
    }
  });

  test('exact cases: top-k 1 is the argmax, a peaked row always draws its peak; the state is one xoshiro128** step on', async () => {
    const B = 4;
    const V = 513;
    const logits = logitsOf(B, V, 33);
    const st = states(B, 100);
    const got = await draw('webgpu', logits, B, st, { topK: 1, temperature: 0.3 }, 3);
    for (let b = 0; b < B; b++) {
      const row = logits.subarray(b * V, (b + 1) * V);
      const top = row.indexOf(Math.max(...row));
      for (const step of got.ids) assert.equal(step[b], top);
      // Three draws: the generator three steps on.
      const rng = Rng.fromState([st[b * 4]!, st[b * 4 + 1]!, st[b * 4 + 2]!, st[b * 4 + 3]!]);
      for (let i = 0; i < 3; i++) rng.nextUint32();
      assert.deepEqual(Array.from(got.state.subarray(b * 4, b * 4 + 4), (w) => w >>> 0), rng.state());
    }
    const peaked = new Float32Array(2 * V);
    peaked[17] = 60;
    peaked[V + V - 1] = 60;
    const p = await draw('webgpu', peaked, 2, states(2, 5), { topP: 0.99 }, 5);
    for (const step of p.ids) assert.deepEqual(step, [17, V - 1]);
  });
});

for (const device of devices) {
  test(`sampleTokens on ${device}: many draws follow the (warped) softmax`, async () => {
    // One launch of many rows with the same logits and independent generators: each row is one draw.
    const V = 6;
    const B = 4000;
    const row = [1.5, 0.2, -0.4, 1.0, -2.0, 0.7];
    const logits = new Float32Array(B * V);
    for (let b = 0; b < B; b++) logits.set(row, b * V);
    const check = async (o: SampleTokensOptions, want: number[]) => {
      const { ids } = await draw(device, logits, B, states(B, 2024), o);
      const freq = new Array<number>(V).fill(0);
      for (const id of ids[0]!) freq[id]!++;
      freq.forEach((f, i) => {
        const sigma = Math.sqrt((want[i]! * (1 - want[i]!)) / B);
        assert.ok(Math.abs(f / B - want[i]!) <= 5 * sigma + 1e-9, `${JSON.stringify(o)} token ${i}: ${f / B} vs ${want[i]}`);
      });
    };
    const softmax = (xs: number[]) => {
      const e = xs.map((x) => (x === -Infinity ? 0 : Math.exp(x)));
      const z = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / z);
    };
    await check({}, softmax(row));
    await check({ temperature: 0.5 }, softmax(row.map((x) => x / 0.5)));
    // top-k 3 keeps 1.5, 1.0, 0.7.
    await check({ topK: 3 }, softmax(row.map((x) => (x >= 0.7 ? x : -Infinity))));
  });
}

/** Row b of `logits` (B × V) alone: one row of logits and its generator, with its own options. */
async function alone(device: DeviceName, logits: Float32Array, V: number, st: Int32Array, b: number, o: SampleTokensRow, steps: number) {
  const row = logits.slice(b * V, (b + 1) * V);
  const state = st.slice(b * 4, b * 4 + 4);
  if (o !== 'greedy') return draw(device, row, 1, state, o, steps);
  const top = row.indexOf(Math.max(...row)); // the first maximum; the generator stays
  return { ids: Array.from({ length: steps }, () => [top]), state };
}

/** Mixed rows: every warper, greedy rows between sampled ones, and the same options twice. */
const MIXED: SampleTokensRow[] = [
  { temperature: 0.7, topK: 12 },
  'greedy',
  { topP: 0.8 },
  { minP: 0.05, temperature: 1.3 },
  'greedy',
  { temperature: 1.4, topK: 40, topP: 0.7, minP: 0.01 },
  {},
  { topK: 3, topP: 0.5 },
  { topP: 0.8 },
];

for (const device of devices) {
  describe(`sampleTokens with per-row options on ${device}`, () => {
    test('each row draws as it would alone with its own options, generator states bit for bit; greedy rows take the argmax and keep their generator', async () => {
      const B = MIXED.length;
      const V = 300;
      const steps = 3;
      const logits = logitsOf(B, V, 71);
      logits[V + 5] = logits[V + 9] = 40; // a tie at the top of a greedy row: the first index wins
      const st = states(B, 500);
      const x = tensor(logits, [B, V], { device });
      const s = tensor(Int32Array.from(st), [B, 4], { device });
      const rows = new SampleTokensRows(MIXED, device);
      const got: number[][] = [];
      for (let i = 0; i < steps; i++) {
        const y = sampleTokens(x, s, rows);
        got.push(Array.from((await y.data()) as Int32Array));
        y.dispose();
      }
      const state = (await s.data()) as Int32Array;
      for (let b = 0; b < B; b++) {
        const want = await alone(device, logits, V, st, b, MIXED[b]!, steps);
        assert.deepEqual(got.map((g) => g[b]), want.ids.map((w) => w[0]), `row ${b} (${JSON.stringify(MIXED[b])}) ids`);
        assert.deepEqual(Array.from(state.subarray(b * 4, b * 4 + 4)), Array.from(want.state), `row ${b} generator state`);
      }
      assert.equal(got[0]![1], 5);
      for (const t of [x, s]) t.dispose();
      rows.dispose();
    });

    test('set() changes one row\'s options from the next launch on; the others go on as before', async () => {
      const B = 3;
      const V = 200;
      const logits = logitsOf(B, V, 72);
      const st = states(B, 600);
      const x = tensor(logits, [B, V], { device });
      const s = tensor(Int32Array.from(st), [B, 4], { device });
      const rows = new SampleTokensRows(['greedy', { topK: 5 }, { temperature: 0.5 }], device);
      sampleTokens(x, s, rows).dispose();
      rows.set(0, { topP: 0.9 });
      rows.set(2, 'greedy');
      assert.deepEqual(rows.rows[2], null);
      const y = sampleTokens(x, s, rows);
      const got = Array.from((await y.data()) as Int32Array);
      const state = (await s.data()) as Int32Array;
      // Row 0: greedy first (no draw), then one draw with top-p from its initial state.
      const r0 = await alone(device, logits, V, st, 0, { topP: 0.9 }, 1);
      const r1 = await alone(device, logits, V, st, 1, { topK: 5 }, 2);
      const r2 = await alone(device, logits, V, st, 2, { temperature: 0.5 }, 1);
      assert.deepEqual(got, [r0.ids[0]![0], r1.ids[1]![0], (await alone(device, logits, V, st, 2, 'greedy', 1)).ids[0]![0]]);
      assert.deepEqual(Array.from(state), [...r0.state, ...r1.state, ...r2.state]);
      for (const t of [x, s, y]) t.dispose();
      rows.dispose();
    });
  });
}

describe('sampleTokens with per-row options in a recorded launch (WebGPU)', { skip: gpu ? false : 'no WebGPU adapter' }, () => {
  test('each replay reads the rows\' options as set() last wrote them, and advances the generators', async () => {
    const B = 4;
    const V = 150;
    const logits = logitsOf(B, V, 73);
    const st = states(B, 700);
    const x = tensor(logits, [B, V], { device: 'webgpu' });
    const s = tensor(Int32Array.from(st), [B, 4], { device: 'webgpu' });
    const rows = new SampleTokensRows([{ topK: 4 }, 'greedy', { minP: 0.1 }, { topP: 0.6 }], 'webgpu');
    let y: ReturnType<typeof sampleTokens> | null = null;
    const work = (x.backend as RecordingBackend).recordWork(() => {
      y = sampleTokens(x, s, rows);
    });
    assert.ok(work && y, 'the launch can be recorded');
    const out: ReturnType<typeof sampleTokens> = y;
    const first = Array.from((await out.data()) as Int32Array);
    rows.set(1, { temperature: 2 });
    rows.set(3, 'greedy');
    work.replay();
    const second = Array.from((await out.data()) as Int32Array);
    const state = (await s.data()) as Int32Array;
    // The same on the CPU, launch by launch.
    const cx = tensor(logits, [B, V]);
    const cs = tensor(Int32Array.from(st), [B, 4]);
    const cr = new SampleTokensRows([{ topK: 4 }, 'greedy', { minP: 0.1 }, { topP: 0.6 }]);
    const want1 = Array.from((await sampleTokens(cx, cs, cr).data()) as Int32Array);
    cr.set(1, { temperature: 2 });
    cr.set(3, 'greedy');
    const want2 = Array.from((await sampleTokens(cx, cs, cr).data()) as Int32Array);
    assert.deepEqual([first, second], [want1, want2]);
    assert.deepEqual(Array.from(state), Array.from((await cs.data()) as Int32Array));
    work.dispose();
    for (const t of [x, s, out, cx, cs]) t.dispose();
    rows.dispose();
    cr.dispose();
  });
});

describe('sampleTokens refuses bad arguments, naming them', () => {
  const bad = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e: unknown) => e instanceof ArgumentError && re.test(e.message));
  test('shapes, dtypes and option ranges', () => {
    const x = tensor(new Float32Array(6), [2, 3]);
    const s = tensor(states(2, 0), [2, 4]);
    bad(() => sampleTokens(tensor(new Float32Array(3), [3]), s), /logits must have rank 2/);
    bad(() => sampleTokens(tensor(new Int32Array(6), [2, 3]), s), /logits must be f32/);
    bad(() => sampleTokens(x, tensor(states(3, 0), [3, 4])), /rngState must have shape \[2, 4\]/);
    bad(() => sampleTokens(x, tensor(new Int32Array(6), [2, 3])), /rngState must have shape/);
    bad(() => sampleTokens(x, tensor(new Float32Array(8), [2, 4])), /rngState must be i32/);
    bad(() => sampleTokens(x, s, { temperature: 0 }), /temperature must be a finite number > 0/);
    bad(() => sampleTokens(x, s, { temperature: Infinity }), /temperature/);
    bad(() => sampleTokens(x, s, { topK: 1.5 }), /topK must be an integer >= 0/);
    bad(() => sampleTokens(x, s, { topK: -1 }), /topK/);
    bad(() => sampleTokens(x, s, { topP: 0 }), /topP must be in \(0, 1\]/);
    bad(() => sampleTokens(x, s, { topP: 1.5 }), /topP/);
    bad(() => sampleTokens(x, s, { minP: -0.1 }), /minP must be in \[0, 1\]/);
    bad(() => sampleTokens(x, s, { minP: 2 }), /minP/);
    bad(() => sampleTokens(x, s, { topk: 3 } as SampleTokensOptions), /topk/);
    bad(() => sampleTokens(x, tensor(new Int32Array(8), [2, 4])), /state must not be all zero/);
    const three = new SampleTokensRows(['greedy', {}, {}]);
    bad(() => sampleTokens(x, s, three), /per-row options have 3 rows for 2 rows of logits/);
    bad(() => new SampleTokensRows([]), /non-empty array/);
    bad(() => new SampleTokensRows([{}, { topP: 2 }]), /topP must be in \(0, 1\]/);
    bad(() => new SampleTokensRows(['argmax' as SampleTokensRow]), /rows\[0\] must be an options object or 'greedy'/);
    bad(() => three.set(3, {}), /row 3 is outside \[0, 3\)/);
    bad(() => three.set(0, { temperature: -1 }), /temperature/);
    three.dispose();
    for (const t of [x, s]) t.dispose();
  });
  test('tensors on different devices', { skip: gpu ? false : 'no WebGPU adapter' }, () => {
    const x = tensor(new Float32Array(6), [2, 3], { device: 'webgpu' });
    const s = tensor(states(2, 0), [2, 4]);
    bad(() => sampleTokens(x, s), /different devices/);
    x.dispose();
    s.dispose();
  });
});
