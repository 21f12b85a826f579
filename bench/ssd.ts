/**
 * GPU time of Mamba-2's chunked SSD forward at a mamba2-130m-like shape (batch 1, L 2048, 24 heads
 * of 64, one group, state 128, chunk 256): the fused forward (5 launches here, kernels/ssd.ts) and its
 * v2 kernels (kernels/ssd-v2.ts, the default; MAMBA_TS_SSD_FWD=v1 the first) timed in turns, BENCH_ROUNDS rounds of each,
 * medians (the machine drifts between processes by more than some differences), with a check line
 * of v2 against v1 at this shape; MAMBA_TS_SSD_SCORES=k4|k2 adds a third, v2 with that scores kernel
 * (kernels/ssd-scores-split.ts), checked against v2; then the composed ops (ssdChunked with the backend's fused forward
 * hidden), and Mamba-1's fused selective scan at mamba-130m's shape (1536 channels, state 16) beside
 * them. Each timing records `reps` calls, then waits once; one JSON line per (piece, L).
 *   node dist/bench/ssd.js
 *   BENCH_L=512,2048 BENCH_BATCH=1 BENCH_REPS=20 BENCH_ROUNDS=5 node dist/bench/ssd.js
 *   MAMBA_TS_SSD_SCORES=k4 node dist/bench/ssd.js
 * scripts/ssd_triton_bench.py times mamba_ssm's Triton mamba_chunk_scan_combined on the same problem
 * (this shape, D, an initial state, the last state returned) and prints the same fields; keep the
 * shapes of the two equal.
 */
import { getBackend, initWebGPU } from '../src/backend/registry.js';
import type { WebGpuBackend } from '../src/backend/webgpu/index.js';
import { randomUniform, RandomSource, selectiveScan, ssdChunked } from '../src/ops/index.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { ArgumentError } from '../src/errors.js';
import { ssdScoresSplit } from '../src/backend/webgpu/kernels/ssd-scores-split.js';

const gpu = (await initWebGPU()) as WebGpuBackend;
const rng = new RandomSource(7);
const o = { device: 'webgpu' as const };
const lengths = (process.env['BENCH_L'] ?? '2048').split(',').map(Number);
const Bt = Number(process.env['BENCH_BATCH'] ?? 1);
const reps = Number(process.env['BENCH_REPS'] ?? 20);
const rounds = Number(process.env['BENCH_ROUNDS'] ?? 5);
const [H, P, G, N, T] = [24, 64, 1, 128, 256];
const r = (shape: number[], lo = -1, hi = 1) => randomUniform(shape, lo, hi, rng, o);

/** µs per call of `f` and of issuing it: `reps` calls recorded after a warm-up call, one wait. */
async function measure(f: () => Tensor[]): Promise<{ us: number; host: number }> {
  for (const t of f()) t.dispose();
  await gpu.sync();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) for (const t of f()) t.dispose();
  const host = performance.now() - t0;
  await gpu.sync();
  const total = performance.now() - t0;
  return { us: (total * 1000) / reps, host: (host * 1000) / reps };
}

function report(piece: string, L: number, shape: Record<string, number>, m: { us: number; host: number }, extra: Record<string, number> = {}): void {
  console.log(JSON.stringify({ bench: 'ssd_forward', piece, batch: Bt, L, ...shape, us_per_call: +m.us.toFixed(1), host_us_per_call: +m.host.toFixed(1), ...extra }));
}

async function time(piece: string, L: number, shape: Record<string, number>, f: () => Tensor[]): Promise<void> {
  report(piece, L, shape, await measure(f));
}

/** The switches one timed variant runs under (undefined: unset). */
interface FwdSwitches {
  fwd: string | undefined;
  scores: string | undefined;
}

/**
 * Runs `f` with MAMBA_TS_SSD_FWD and MAMBA_TS_SSD_SCORES set as `v` says (undefined: unset), and
 * puts both back.
 */
function withSsdFwd<R>(v: FwdSwitches, f: () => R): R {
  const names = { fwd: 'MAMBA_TS_SSD_FWD', scores: 'MAMBA_TS_SSD_SCORES' } as const;
  const before = { fwd: process.env[names.fwd], scores: process.env[names.scores] };
  const set = (name: string, value: string | undefined) => {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  };
  set(names.fwd, v.fwd);
  set(names.scores, v.scores);
  try {
    return f();
  } finally {
    set(names.fwd, before.fwd);
    set(names.scores, before.scores);
  }
}

/**
 * MAMBA_TS_SSD_SCORES as this process was started with (k4, k2: kernels/ssd-scores-split.ts): a
 * third variant, v2 with that scores kernel, timed in the same turns (the default v2 piece runs
 * with the switch unset).
 */
const splitScores = process.env['MAMBA_TS_SSD_SCORES'];
// Another value would run v2's own scores kernel under the split kernel's label.
if (splitScores !== undefined && ssdScoresSplit() === null) {
  throw new ArgumentError(`MAMBA_TS_SSD_SCORES: expected k4 or k2 (or unset), got ${JSON.stringify(splitScores)}`);
}

/** The largest |a − b| over max |b|, of each pair of arrays. */
async function relDiff(a: Tensor, b: Tensor): Promise<number> {
  const [x, y] = [await a.data(), await b.data()];
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < y.length; i++) {
    diff = Math.max(diff, Math.abs(x[i]! - y[i]!));
    scale = Math.max(scale, Math.abs(y[i]!));
  }
  return diff / scale;
}

const median = (v: number[]) => v.slice().sort((a, b) => a - b)[v.length >> 1]!;

const backend = getBackend('webgpu');
const fused = backend.ssdChunkedForward;
for (const L of lengths) {
  const x = r([Bt, L, H, P]);
  const dt = r([Bt, L, H], 0.001, 0.1);
  const A = r([H], -8, -1);
  const B = r([Bt, L, G, N]);
  const C = r([Bt, L, G, N]);
  const D = r([H]);
  const h0 = r([Bt, H, P, N]);
  const ssdShape = { heads: H, head_dim: P, groups: G, state: N, chunk: T };
  const run = () => {
    const s = ssdChunked(x, dt, A, B, C, T, { D, initialState: h0 });
    return [s.out, s.lastState];
  };
  // v1 and v2 (the default) in turns (and v2 with MAMBA_TS_SSD_SCORES's kernel where it is set),
  // with v2's outputs checked against v1's first (and the split scores' against v2's).
  const variants: ({ piece: string } & FwdSwitches)[] = [
    { piece: 'mamba2 ssd fused v1 (MAMBA_TS_SSD_FWD=v1)', fwd: 'v1', scores: undefined },
    { piece: 'mamba2 ssd fused v2 (the default)', fwd: undefined, scores: undefined },
  ];
  if (splitScores !== undefined) variants.push({ piece: `mamba2 ssd fused v2, MAMBA_TS_SSD_SCORES=${splitScores}`, fwd: undefined, scores: splitScores });
  const outs = variants.map((v) => withSsdFwd(v, run));
  const [v1Out, v2Out, splitOut] = outs;
  const check: Record<string, unknown> = { bench: 'ssd_forward_check', L, v2_vs_v1_out_rel: await relDiff(v2Out![0]!, v1Out![0]!), v2_vs_v1_last_state_rel: await relDiff(v2Out![1]!, v1Out![1]!) };
  if (splitOut) {
    check['scores'] = splitScores;
    check['scores_vs_v2_out_rel'] = await relDiff(splitOut[0]!, v2Out![0]!);
    check['scores_vs_v2_last_state_rel'] = await relDiff(splitOut[1]!, v2Out![1]!);
  }
  console.log(JSON.stringify(check));
  for (const t of outs.flat()) t.dispose();
  const times = variants.map(() => [] as { us: number; host: number }[]);
  for (let round = 0; round < rounds; round++) {
    for (const [k, v] of variants.entries()) times[k]!.push(await measure(() => withSsdFwd(v, run)));
  }
  for (const [k, v] of variants.entries()) {
    const m = times[k]!;
    report(v.piece, L, ssdShape, { us: median(m.map((x) => x.us)), host: median(m.map((x) => x.host)) }, { us_min: +Math.min(...m.map((x) => x.us)).toFixed(1), rounds });
  }
  backend.ssdChunkedForward = undefined;
  await time('mamba2 ssd composed ops', L, ssdShape, run);
  backend.ssdChunkedForward = fused;
  // Mamba-1 at mamba-130m's shape: E = 1536 channels, N = 16, softplus'd delta, z gate.
  const E1 = 1536;
  const s1 = { u: r([Bt, L, E1]), delta: r([Bt, L, E1], -4, -2), A: r([E1, 16], -2, -0.1), B: r([Bt, L, 16]), C: r([Bt, L, 16]), D: r([E1]), z: r([Bt, L, E1]) };
  await time('mamba1 selective scan (fused)', L, { channels: E1, state: 16 }, () => {
    const s = selectiveScan(s1.u, s1.delta, s1.A, s1.B, s1.C, { D: s1.D, z: s1.z, deltaSoftplus: true });
    return [s.out, s.lastState];
  });
  for (const t of [x, dt, A, B, C, D, h0, ...Object.values(s1)]) t.dispose();
}
process.exit(0);
