/**
 * With `--scan B,D,L,N`: the same for one fused selective scan call at that shape; with
 * `--prefill L`: for the model's prefill of an L-token prompt (fewer replays: its kernels are long);
 * with `--train L,B`: for one training step of the synthetic tasks' model (2 layers, d 64, vocabulary
 * 16) on B sequences of L tokens (the paper's Selective Copying: --train 4128,64); with `--ssd L`:
 * for one Mamba-2 chunked SSD forward at bench/ssd.ts's shape (batch 1, 24 heads of 64, one group,
 * state 128, chunk 256, D, initial and last state), with v1's kernels (MAMBA_TS_SSD_FWD=v1) captured
 * beside the default (v2) ones unless BENCH_VARIANTS says otherwise.
 *
 * GPU time of each kernel of a batch-1 decode step (mamba-130m shape unless BENCH_HIDDEN /
 * BENCH_VOCAB say otherwise): one token's launches are captured, then each launch is replayed
 * `reps` times back to back in one pass (barriers between them, as in the real step), so that the
 * host's recording cost (~2 µs a launch) stays below the GPU's. Also the whole token replayed.
 * BENCH_BATCH=B: the decode step of a batch of B sequences (the blocked kernels past 4 rows).
 * BENCH_VARIANTS (decode steps, --ssd): also the step under other switches, compared in this
 * process (see benchVariants), e.g. BENCH_BATCH=64 BENCH_VARIANTS="MAMBA_TS_STEP_SSM=states;MAMBA_TS_BATCH_SPLITK=all".
 *   node dist/bench/gpu-kernels.js
 *   node dist/bench/gpu-kernels.js --ssd 2048
 *   BENCH_VARIANTS="MAMBA_TS_SSD_SCORES=k4;MAMBA_TS_SSD_SCORES=k2" node dist/bench/gpu-kernels.js --ssd 2048
 */
import { initWebGPU } from '../src/backend/registry.js';
import type { GraphLaunch } from '../src/backend/webgpu/context.js';
import type { WebGpuBackend } from '../src/backend/webgpu/index.js';
import { MambaConfig } from '../src/models/mamba/config.js';
import { initMambaWeights } from '../src/models/mamba/init.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { answerLossOn } from '../src/experiments/answer-scoring.js';
import { argmax, randomUniform, RandomSource, selectiveScan, ssdChunked } from '../src/ops/index.js';
import { AdamW } from '../src/train/adamw.js';
import { ReplayedTrainStep } from '../src/train/replayed-step.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { parseVariants, withSwitches, type SwitchVariant } from './switch-variants.js';

const gpu = (await initWebGPU()) as WebGpuBackend;
const scanArg = process.argv.indexOf('--scan');
const prefillArg = process.argv.indexOf('--prefill');
const trainArg = process.argv.indexOf('--train');
const ssdArg = process.argv.indexOf('--ssd');
const H = Number(process.env['BENCH_HIDDEN'] ?? 768);
const V = Number(process.env['BENCH_VOCAB'] ?? 50280);
let launches: GraphLaunch[] = [];
/** Records what `fn` launches (as a LaunchGraph, which owns its uniforms and temporaries). */
function capture(fn: () => void): void {
  gpu.ctx.beginGraph();
  fn();
  launches = gpu.ctx.endGraph().commands.filter((c): c is GraphLaunch => c.kind === 'dispatch');
}
const keep: { dispose(): void }[] = [];
/** BENCH_VARIANTS' captures (decode steps only), beside the default one in `launches`. */
const variants: { name: string; launches: GraphLaunch[] }[] = [];

/** BENCH_VARIANTS (see switch-variants.ts), or `fallback` when it is unset. */
function benchVariants(fallback = ''): SwitchVariant[] {
  return parseVariants(process.env['BENCH_VARIANTS'] ?? fallback, 'BENCH_VARIANTS');
}

/**
 * Captures `step` again under each variant's switches (after `warm`, which compiles the variant's
 * kernels outside the capture), for comparing kernels in one process: the machine drifts between
 * processes by more than many differences.
 */
async function captureVariants(specs: SwitchVariant[], warm: () => void, step: () => void): Promise<void> {
  for (const v of specs) {
    const env = withSwitches(v.env);
    try {
      warm();
      await gpu.sync();
      const base = launches;
      capture(step);
      variants.push({ name: v.name, launches });
      launches = base;
    } finally {
      env.restore();
    }
  }
}

let label: Record<string, unknown>;
if (ssdArg > 0) {
  // bench/ssd.ts's shape (mamba2-130m-like): keep the two equal.
  const L = Number(process.argv[ssdArg + 1]);
  const [Hs, P, G, N, T] = [24, 64, 1, 128, 256];
  const rng = new RandomSource(7);
  const r = (shape: number[], lo = -1, hi = 1) => randomUniform(shape, lo, hi, rng, { device: 'webgpu' });
  const [x, dt, A, B, C, D, h0] = [r([1, L, Hs, P]), r([1, L, Hs], 0.001, 0.1), r([Hs], -8, -1), r([1, L, G, N]), r([1, L, G, N]), r([Hs]), r([1, Hs, P, N])] as const;
  keep.push(x, dt, A, B, C, D, h0);
  const run = () => ssdChunked(x, dt, A, B, C, T, { D, initialState: h0 });
  const warm = () => {
    const s = run();
    s.out.dispose();
    s.lastState.dispose();
  };
  const step = () => {
    const s = run();
    keep.push(s.out, s.lastState);
  };
  warm();
  await gpu.sync();
  capture(step);
  label = { bench: 'ssd_forward_gpu', L, heads: Hs, head_dim: P, groups: G, state: N, chunk: T };
  await captureVariants(benchVariants('MAMBA_TS_SSD_FWD=v1'), warm, step);
} else if (scanArg > 0) {
  const [B, D, L, N] = process.argv[scanArg + 1]!.split(',').map(Number) as [number, number, number, number];
  const rng = new RandomSource(1);
  const r = (shape: number[], lo: number, hi: number) => randomUniform(shape, lo, hi, rng, { device: 'webgpu' });
  const ins = [r([B, L, D], -1, 1), r([B, L, D], -3, 0), r([D, N], -2, -0.1), r([B, L, N], -1, 1), r([B, L, N], -1, 1), r([D], -1, 1), r([B, L, D], -1, 1), r([D], -1, 0)] as const;
  const run = () => selectiveScan(ins[0], ins[1], ins[2], ins[3], ins[4], { D: ins[5], z: ins[6], deltaBias: ins[7], deltaSoftplus: true });
  const w = run();
  w.out.dispose();
  w.lastState.dispose();
  await gpu.sync();
  capture(() => {
    const s = run();
    keep.push(...ins, s.out, s.lastState);
  });
  label = { bench: 'scan_gpu', B, D, L, N };
} else if (trainArg > 0) {
  // The paper's synthetic-task model (2 layers, d 64, N 16, vocabulary 16) trained on one batch of
  // B sequences of L tokens, every position scored: forward, loss, backward, clip and fused AdamW
  // (the replayed training step's work, train/replayed-step.ts).
  const [L, B] = process.argv[trainArg + 1]!.split(',').map(Number) as [number, number];
  const model = new MambaForCausalLM(MambaConfig.create({ hidden_size: 64, num_hidden_layers: 2, state_size: 16, vocab_size: 16, use_bias: false }));
  initMambaWeights(model, 0, 'webgpu');
  model.requiresGrad_(true);
  const opt = new AdamW(model.namedParameters(), { lr: 1e-3, weightDecay: 0 });
  // The trainers' replayed step (train/replayed-step.ts), its launches captured here instead.
  const train = new ReplayedTrainStep({
    opt,
    params: model.namedParameters().map(([, p]) => p),
    device: 'webgpu',
    gradClip: 1,
    inputs: [{ shape: [B, L], dtype: 'i32' }, { shape: [B * L], dtype: 'i32' }],
    lossOf: ([ids, labels]) => {
      const out = model.forwardSync(ids!);
      const loss = answerLossOn(out.logits, labels!, B * L);
      out.logits.dispose();
      return loss;
    },
  });
  const step = () => {
    opt.beginStep();
    train.run();
  };
  train.step([Int32Array.from({ length: B * L }, (_, i) => (i * 7) % 16), Int32Array.from({ length: B * L }, (_, i) => (i * 5) % 16)]);
  await gpu.sync();
  capture(step);
  keep.push(train, opt, model);
  label = { bench: 'train_step_gpu', L, B, tokens: B * L };
} else if (prefillArg > 0) {
  const L = Number(process.argv[prefillArg + 1]);
  const model = new MambaForCausalLM(MambaConfig.create({ hidden_size: H, num_hidden_layers: 24, vocab_size: V, use_bias: false }));
  initMambaWeights(model, 0, 'webgpu');
  const prompt = [Array.from({ length: L }, (_, i) => (i * 7919) % V)];
  const warm = model.createCache(1);
  model.nextLogits(prompt, warm).dispose();
  warm.dispose();
  await gpu.sync();
  capture(() => {
    const cache = model.createCache(1);
    keep.push(model.nextLogits(prompt, cache), cache);
  });
  label = { bench: 'prefill_gpu', hidden: H, vocab: V, L };
} else {
  const model = new MambaForCausalLM(MambaConfig.create({ hidden_size: H, num_hidden_layers: 24, vocab_size: V, use_bias: false }));
  initMambaWeights(model, 0, 'webgpu');
  const batch = Number(process.env['BENCH_BATCH'] ?? 1);
  const ids = (t: number) => Array.from({ length: batch }, (_, b) => [(t + b * 13) % V]);
  const cache = model.createCache(batch);
  for (let i = 0; i < 3; i++) {
    const lg = model.nextLogits(ids(i + 1), cache);
    argmax(lg).dispose();
    lg.dispose();
  }
  await gpu.sync();
  const step = () => {
    const lg = model.nextLogits(ids(7), cache);
    keep.push(lg, argmax(lg));
  };
  capture(step);
  label = { bench: 'decode_token_gpu', hidden: H, vocab: V, batch };
  // BENCH_VARIANTS: the same step captured again under each variant's switches.
  const warm = () => {
    const lg = model.nextLogits(ids(5), cache);
    argmax(lg).dispose();
    lg.dispose();
  };
  await captureVariants(benchVariants(), warm, step);
}
await gpu.sync(); // writes this batch's uniforms; nothing else may run until the replays are done
const device = gpu.ctx.device;

async function replay(list: GraphLaunch[], reps: number): Promise<number> {
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  for (let r = 0; r < reps; r++) {
    for (const l of list) {
      pass.setPipeline(l.pipe);
      if (l.offsets === null) pass.setBindGroup(0, l.bindGroup);
      else pass.setBindGroup(0, l.bindGroup, l.offsets);
      pass.dispatchWorkgroups(...l.groups);
    }
  }
  pass.end();
  const t0 = performance.now();
  device.queue.submit([enc.finish()]);
  await device.queue.onSubmittedWorkDone();
  return (performance.now() - t0) * 1000;
}

/**
 * µs per replay of `list`: the difference between 2·reps and reps replays, so that the fixed cost
 * of a submit and its wait (large next to a short kernel) cancels out.
 */
async function perReplay(list: GraphLaunch[], reps: number): Promise<number> {
  await replay(list, Math.ceil(reps / 10)); // warm
  const once = await replay(list, reps);
  return ((await replay(list, 2 * reps)) - once) / reps;
}

// groups: the first launch's grid; workgroups: the fewest and most of any launch under the key.
const byKey = new Map<string, { launches: number; us: number; groups: [number, number, number]; minGroups: number; maxGroups: number }>();
// BENCH_REPS: fewer replays (a software adapter's check of the harness), or more.
const reps = Number(process.env['BENCH_REPS'] ?? (prefillArg > 0 || trainArg > 0 ? 20 : 200));
for (const l of launches) {
  const us = await perReplay([l], reps);
  const n = l.groups[0] * l.groups[1] * l.groups[2];
  const e = byKey.get(l.key) ?? { launches: 0, us: 0, groups: l.groups, minGroups: n, maxGroups: n };
  e.minGroups = Math.min(e.minGroups, n);
  e.maxGroups = Math.max(e.maxGroups, n);
  e.launches++;
  e.us += us;
  byKey.set(l.key, e);
}
let sum = 0;
for (const [key, e] of byKey) {
  sum += e.us;
  console.log(JSON.stringify({ bench: 'kernel', kernel: key, launches: e.launches, us_all_launches: +e.us.toFixed(1), us_per_launch: +(e.us / e.launches).toFixed(2), groups: e.groups, workgroups: [e.minGroups, e.maxGroups] }));
}
const whole = await perReplay(launches, Math.min(reps, prefillArg > 0 || trainArg > 0 ? 4 : 100));
console.log(JSON.stringify({ ...label, launches: launches.length, us_sum_of_kernels: +sum.toFixed(1), us_replayed: +whole.toFixed(1) }));
if (variants.length > 0) {
  // Each variant's kernels that the default step does not launch, then the whole steps replayed
  // in turns (default first in each round); the median of the rounds.
  const defaultKeys = new Set(launches.map((l) => l.key));
  for (const v of variants) {
    const own = new Map<string, { launches: number; us: number }>();
    for (const l of v.launches.filter((x) => !defaultKeys.has(x.key))) {
      const e = own.get(l.key) ?? { launches: 0, us: 0 };
      e.launches++;
      e.us += await perReplay([l], reps);
      own.set(l.key, e);
    }
    for (const [key, e] of own) console.log(JSON.stringify({ bench: 'kernel', variant: v.name, kernel: key, launches: e.launches, us_all_launches: +e.us.toFixed(1), us_per_launch: +(e.us / e.launches).toFixed(2) }));
  }
  const all = [{ name: 'default', launches }, ...variants];
  const times = all.map(() => [] as number[]);
  for (let round = 0; round < 7; round++) {
    for (let i = 0; i < all.length; i++) times[i]!.push(await perReplay(all[i]!.launches, Math.min(reps, 50)));
  }
  all.forEach((v, i) => {
    const t = times[i]!.slice().sort((a, b) => a - b);
    console.log(JSON.stringify({ ...label, variant: v.name, launches: v.launches.length, us_replayed_median: +t[t.length >> 1]!.toFixed(1), us_replayed_min: +t[0]!.toFixed(1), rounds: t.length }));
  });
}
for (const t of keep) t.dispose();
