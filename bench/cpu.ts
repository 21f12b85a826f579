/**
 * mamba-ts on the CPU against llama.cpp (node-llama-cpp, a dev dependency) on the same model: the
 * mamba-130m shape (d_model 768, 24 layers, d_state 16, vocab 50280) with the random weights
 * initMambaWeights gives for seed 0, written as GGUF by scripts/write-mamba-gguf.mjs (cached in
 * runs/bench/). Batch 1. The parts, interleaved in rounds (the order of the engines alternating
 * from round to round) so that a busy machine slows both alike:
 * - prefill: L prompt tokens to the first token, f32 weights, at each thread count of each engine;
 * - decode: greedy tokens/s after a short prompt and its first token, f32 weights on both (mamba-ts
 *   through generate, whatever path it takes on the backend);
 * - decode16: mamba-ts with bf16 weights against llama.cpp with f16 weights;
 * - train: mamba-ts training tokens/s (forward, backward, clipping, AdamW) at seq 256.
 * Prints a JSON line per measurement, then a summary line with the medians, each engine's best
 * thread count, the ratios mamba-ts / llama.cpp, and the targets of issue 13.
 *
 *   npm run bench [-- --rounds 3 --only prefill,decode,decode16,train --prefill 512 --decode 64
 *                     --prompt 16 --train-seq 256 --train-batch 1 --layers 24 --threads 1,2
 *                     --mts-threads 1,2 --fresh-gguf]
 *
 * --threads: llama.cpp's thread counts (default 1 and os.availableParallelism() when larger).
 * --mts-threads: mamba-ts's, set through setCpuThreads where the library exports it; otherwise
 *   mamba-ts runs with what it has (MAMBA_TS_THREADS, or its one thread) and says so.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { getBackend } from '../src/backend/registry.js';
import * as lib from '../src/index.js';
import { MambaConfig } from '../src/models/mamba/config.js';
import { initMambaWeights } from '../src/models/mamba/init.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { halfTensor } from '../src/ops/create.js';
import { f32ToBf16 } from '../src/tensor/half.js';
import { liveTensorCount } from '../src/tensor/memory.js';
import { loadLlamaCpp, type LlamaCppEngine } from './llama-cpp.js';
import { trainBench, type TrainBench } from './train-step.js';

const PARTS = ['prefill', 'decode', 'decode16', 'train'] as const;
type Part = (typeof PARTS)[number];

/** Issue 13's goals: ratios to llama.cpp for prefill and 16-bit decode; training against today's 1.5 tokens/s. */
const TARGETS = { prefill_vs_llama: 0.75, decode16_vs_llama_f16: 1.0, train_vs_baseline: 10 };
const TRAIN_BASELINE = { tokens_per_s: 1.5, seq: 64, note: 'issue 13: mamba-ts CPU training before the WebAssembly backend, seq 64' };

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    only: { type: 'string', default: PARTS.join(',') },
    prefill: { type: 'string', default: '512' },
    decode: { type: 'string', default: '64' },
    prompt: { type: 'string', default: '16' },
    'train-seq': { type: 'string', default: '256' },
    'train-batch': { type: 'string', default: '1' },
    layers: { type: 'string', default: '24' },
    threads: { type: 'string' },
    'mts-threads': { type: 'string' },
    'fresh-gguf': { type: 'boolean', default: false },
  },
});

function fail(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(2);
}
function positiveInt(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) fail(`--${name} must be a positive integer, got ${JSON.stringify(text)}`);
  return n;
}
function intList(name: string, text: string): number[] {
  return [...new Set(text.split(',').map((s) => positiveInt(name, s.trim())))];
}

const rounds = positiveInt('rounds', values.rounds);
const L = positiveInt('prefill', values.prefill);
const N = positiveInt('decode', values.decode);
const P = positiveInt('prompt', values.prompt);
const trainSeq = positiveInt('train-seq', values['train-seq']);
const trainBatch = positiveInt('train-batch', values['train-batch']);
const layers = positiveInt('layers', values.layers);
const parts = new Set(values.only.split(',').map((s) => s.trim()));
for (const p of parts) if (!(PARTS as readonly string[]).includes(p)) fail(`--only: unknown part ${JSON.stringify(p)}; parts: ${PARTS.join(', ')}`);
const on = (p: Part) => parts.has(p);
const cores = availableParallelism();
const llamaThreads = values.threads ? intList('threads', values.threads) : [...new Set([1, cores])];

// mamba-ts threads: through setCpuThreads where the library has it (the WebAssembly backend's pool).
const setCpuThreads = (lib as Record<string, unknown>)['setCpuThreads'];
const canSetThreads = typeof setCpuThreads === 'function';
const envThreads = process.env['MAMBA_TS_THREADS'];
const mtsThreads: (number | null)[] = values['mts-threads']
  ? canSetThreads
    ? intList('mts-threads', values['mts-threads'])
    : fail('--mts-threads: this build of mamba-ts exports no setCpuThreads (use MAMBA_TS_THREADS if it reads that)')
  : [null]; // null: whatever the library runs with
const useThreads = (t: number | null): number | string => {
  if (t !== null) (setCpuThreads as (n: number) => void)(t);
  return t ?? (envThreads ? `MAMBA_TS_THREADS=${envThreads}` : 'default');
};

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const model = { name: 'mamba-130m-shape', d_model: 768, layers, vocab: 50280, seed: 0 };
const emit = (o: Record<string, unknown>) => console.log(JSON.stringify(o));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const tokensOf = (n: number) => Array.from({ length: n }, (_, i) => (i * 7919 + 11) % model.vocab);

/** The GGUF of the bench model for llama.cpp, written once by the script (in its own process, so its memory goes with it). */
function benchGguf(type: 'f32' | 'f16'): string {
  const out = resolve(root, 'runs/bench', `mamba-${model.d_model}x${layers}-v${model.vocab}-seed${model.seed}-${type}.gguf`);
  if (existsSync(out) && !values['fresh-gguf']) return out;
  const script = resolve(root, 'scripts/write-mamba-gguf.mjs');
  const r = spawnSync(process.execPath, [script, '--type', type, '--layers', String(layers), '--seed', String(model.seed), '--out', out], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) fail(`${script} failed (exit ${r.status})`);
  console.error(`# wrote ${out}`);
  return out;
}

/** Packs the large matrices as bf16 (the rest stays f32), where the CPU backend keeps 16-bit weights. */
async function toBf16(m: MambaForCausalLM): Promise<void> {
  for (const [name, p] of m.namedParameters()) {
    if (!p.packable) continue;
    p.set(halfTensor(f32ToBf16((await p.value.data()) as Float32Array), p.shape, 'bf16'), name);
  }
}

function mambaModel(): MambaForCausalLM {
  const m = new MambaForCausalLM(MambaConfig.create({ hidden_size: model.d_model, num_hidden_layers: layers, vocab_size: model.vocab, use_bias: false }));
  initMambaWeights(m, model.seed);
  return m;
}

async function mtsPrefill(m: MambaForCausalLM, ids: number[]): Promise<number> {
  const cache = m.createCache(1);
  const t0 = performance.now();
  const logits = m.nextLogits([ids], cache);
  await logits.data();
  const seconds = (performance.now() - t0) / 1000;
  logits.dispose();
  cache.dispose();
  return seconds;
}

/** Seconds for greedy generation of `n` new tokens after `prompt`, through the library's own path (generate). */
async function mtsGenerate(m: MambaForCausalLM, prompt: number[], n: number): Promise<number> {
  const t0 = performance.now();
  const out = await m.generate([prompt], { maxNewTokens: n, doSample: false, eosTokenId: null });
  const seconds = (performance.now() - t0) / 1000;
  if (out[0]!.length !== prompt.length + n) throw new Error(`mamba-ts generate gave ${out[0]!.length - prompt.length} tokens, expected ${n}`);
  return seconds;
}

/**
 * Seconds for n greedy tokens after the prompt and its first token, as llama.cpp's side is timed.
 * generate reads ids back in groups (so steps cannot be timed one by one from outside): the time
 * of n + 1 new tokens less the time of 1, run back to back.
 */
async function mtsDecode(m: MambaForCausalLM, prompt: number[], n: number): Promise<number> {
  const first = await mtsGenerate(m, prompt, 1);
  return (await mtsGenerate(m, prompt, n + 1)) - first;
}

// ---- setup (untimed): models, GGUF files, contexts, warm-up ----
const cpu = getBackend('cpu');
const started = performance.now();
const env = { node: process.version, cores, loadavg_start: loadavg().map((x) => +x.toFixed(2)), mamba_ts_backend: cpu.name };
const needF32 = on('prefill') || on('decode');
const mtsF32 = needF32 ? mambaModel() : null;
let mtsBf16: MambaForCausalLM | null = null;
let bf16Missing: string | null = null;
if (on('decode16')) {
  if (!cpu.uploadHalf) bf16Missing = `the ${cpu.name} backend keeps weights in float32 (it has no 16-bit weight storage yet)`;
  else {
    mtsBf16 = mambaModel();
    await toBf16(mtsBf16);
  }
}
const ggufs: Record<string, string> = {};
if (needF32) ggufs['f32'] = benchGguf('f32');
if (on('decode16')) ggufs['f16'] = benchGguf('f16');
let llama: LlamaCppEngine | null = null;
let llamaMissing: string | null = null;
if (Object.keys(ggufs).length) {
  try {
    llama = await loadLlamaCpp(ggufs, llamaThreads, Math.max(L, P + N + 1));
  } catch (e) {
    llamaMissing = `node-llama-cpp could not load llama.cpp: ${(e as Error).message}`;
    console.error(`# ${llamaMissing}; mamba-ts is measured alone`);
  }
}
const trainer: TrainBench | null = on('train') ? trainBench('cpu', layers) : null;

const warmIds = tokensOf(32);
for (const t of mtsThreads) {
  useThreads(t);
  for (const m of [mtsF32, mtsBf16]) {
    if (!m) continue;
    await mtsPrefill(m, warmIds);
    await mtsDecode(m, warmIds.slice(0, 4), 2);
  }
}
if (llama) {
  for (const w of Object.keys(ggufs)) {
    for (const t of llamaThreads) {
      await llama.prefill(w, t, warmIds);
      await llama.decode(w, t, warmIds.slice(0, 4), 2);
    }
  }
}
// Both engines must run the same model: their greedy continuations of one prompt agree.
if (llama && mtsF32) {
  const probe = tokensOf(P);
  const mts = (await mtsF32.generate([probe], { maxNewTokens: 8, doSample: false, eosTokenId: null }))[0]!.slice(P);
  const cpp = await llama.greedy('f32', llamaThreads[0]!, probe, 8);
  const cache = mtsF32.createCache(1);
  const mine = mtsF32.nextLogits([probe], cache);
  const logits = (await mine.data()) as Float32Array;
  mine.dispose();
  cache.dispose();
  // llama.cpp (node-llama-cpp 3.21) gives probabilities: compare softmaxes.
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  const want = logits.map((v) => Math.exp(v - max));
  for (const v of want) sum += v;
  for (let i = 0; i < want.length; i++) want[i]! /= sum;
  const theirs = await llama.lastProbabilities('f32', llamaThreads[0]!, probe, model.vocab);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(want[i]! - theirs[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  const same = mts.join() === cpp.join() && diff <= 1e-3 * scale;
  emit({ bench: 'same-model-check', greedy_mamba_ts: mts, greedy_llama_cpp: cpp, probabilities_max_abs_diff: +diff.toExponential(2), probabilities_max: +scale.toFixed(4), same });
  if (!same) console.error('# WARNING: mamba-ts and llama.cpp disagree on the bench model (greedy tokens, or next-token probabilities beyond 1e-3 of the largest)');
}
if (trainer) await trainer.step(1, Math.min(32, trainSeq)); // JIT and pools; the timed steps use the full shape
emit({ bench: 'setup', model, ...env, llama_cpp: llama?.release ?? llamaMissing, llama_threads: llamaThreads, mts_threads: mtsThreads.map((t) => t ?? useThreads(null)), seconds: +((performance.now() - started) / 1000).toFixed(1) });

// ---- rounds ----
interface Sample {
  bench: string;
  engine: 'mamba-ts' | 'llama.cpp';
  weights: string;
  threads: number | string;
  tokens_per_s: number;
}
const samples: Sample[] = [];
function record(round: number, bench: string, engine: Sample['engine'], weights: string, threads: number | string, tokens: number, seconds: number, extra: Record<string, unknown> = {}): void {
  const s: Sample = { bench, engine, weights, threads, tokens_per_s: tokens / seconds };
  samples.push(s);
  emit({ bench, round, engine, weights, threads, tokens, seconds: +seconds.toFixed(3), tokens_per_s: +s.tokens_per_s.toFixed(2), ...extra });
}

const prefillIds = tokensOf(L);
const prompt = tokensOf(P);
for (let round = 1; round <= rounds; round++) {
  const mtsFirst = round % 2 === 1;
  const both = async (mts: () => Promise<void>, llamaPart: () => Promise<void>) => {
    if (mtsFirst) {
      await mts();
      if (llama) await llamaPart();
    } else {
      if (llama) await llamaPart();
      await mts();
    }
  };
  if (on('prefill')) {
    await both(
      async () => {
        for (const t of mtsThreads) record(round, 'prefill', 'mamba-ts', 'f32', useThreads(t), L, await mtsPrefill(mtsF32!, prefillIds));
      },
      async () => {
        for (const t of llamaThreads) record(round, 'prefill', 'llama.cpp', 'f32', t, L, await llama!.prefill('f32', t, prefillIds));
      },
    );
  }
  if (on('decode')) {
    await both(
      async () => {
        for (const t of mtsThreads) record(round, 'decode', 'mamba-ts', 'f32', useThreads(t), N, await mtsDecode(mtsF32!, prompt, N));
      },
      async () => {
        for (const t of llamaThreads) record(round, 'decode', 'llama.cpp', 'f32', t, N, await llama!.decode('f32', t, prompt, N));
      },
    );
  }
  if (on('decode16')) {
    await both(
      async () => {
        if (mtsBf16) for (const t of mtsThreads) record(round, 'decode16', 'mamba-ts', 'bf16', useThreads(t), N, await mtsDecode(mtsBf16, prompt, N));
      },
      async () => {
        for (const t of llamaThreads) record(round, 'decode16', 'llama.cpp', 'f16', t, N, await llama!.decode('f16', t, prompt, N));
      },
    );
  }
  if (trainer) {
    for (const t of mtsThreads) {
      const threads = useThreads(t);
      const t0 = performance.now();
      const loss = await trainer.step(trainBatch, trainSeq);
      record(round, 'train', 'mamba-ts', 'f32', threads, trainBatch * trainSeq, (performance.now() - t0) / 1000, { batch: trainBatch, seq: trainSeq, loss: +loss.toFixed(4) });
    }
  }
}

// ---- summary ----
/** Median tokens/s per thread count, and the best of those medians. */
function best(bench: string, engine: Sample['engine'], weights: string): { tokens_per_s: number; threads: number | string; by_threads: Record<string, number> } | null {
  const byThreads = new Map<string, number[]>();
  for (const s of samples) if (s.bench === bench && s.engine === engine && s.weights === weights) byThreads.set(String(s.threads), [...(byThreads.get(String(s.threads)) ?? []), s.tokens_per_s]);
  if (!byThreads.size) return null;
  const medians = Object.fromEntries([...byThreads].map(([t, xs]) => [t, +median(xs).toFixed(2)]));
  const [threads, tokens_per_s] = Object.entries(medians).sort((a, b) => b[1] - a[1])[0]!;
  return { tokens_per_s, threads: Number.isNaN(Number(threads)) ? threads : Number(threads), by_threads: medians };
}
const ratio = (a: { tokens_per_s: number } | null, b: { tokens_per_s: number } | null) => (a && b ? +(a.tokens_per_s / b.tokens_per_s).toFixed(3) : null);

const result = {
  prefill: { 'mamba-ts': best('prefill', 'mamba-ts', 'f32'), 'llama.cpp': best('prefill', 'llama.cpp', 'f32'), tokens: L },
  decode_f32: { 'mamba-ts': best('decode', 'mamba-ts', 'f32'), 'llama.cpp': best('decode', 'llama.cpp', 'f32'), tokens: N, prompt: P },
  decode_16bit: { 'mamba-ts bf16': best('decode16', 'mamba-ts', 'bf16'), 'llama.cpp f16': best('decode16', 'llama.cpp', 'f16'), tokens: N, prompt: P, ...(bf16Missing ? { mamba_ts_missing: bf16Missing } : {}) },
  train: { 'mamba-ts': best('train', 'mamba-ts', 'f32'), seq: trainSeq, batch: trainBatch, baseline: TRAIN_BASELINE },
};
const ratios = {
  prefill: ratio(result.prefill['mamba-ts'], result.prefill['llama.cpp']),
  decode_f32: ratio(result.decode_f32['mamba-ts'], result.decode_f32['llama.cpp']),
  decode_bf16_vs_llama_f16: ratio(result.decode_16bit['mamba-ts bf16'], result.decode_16bit['llama.cpp f16']),
  // Where mamba-ts has no 16-bit weights yet: its f32 decode against llama.cpp's f16, for reference.
  decode_f32_vs_llama_f16: ratio(result.decode_f32['mamba-ts'], result.decode_16bit['llama.cpp f16']),
  train_vs_baseline: result.train['mamba-ts'] ? +(result.train['mamba-ts'].tokens_per_s / TRAIN_BASELINE.tokens_per_s).toFixed(2) : null,
};
const met = {
  prefill: ratios.prefill === null ? null : ratios.prefill >= TARGETS.prefill_vs_llama,
  decode16: ratios.decode_bf16_vs_llama_f16 === null ? null : ratios.decode_bf16_vs_llama_f16 >= TARGETS.decode16_vs_llama_f16,
  train: ratios.train_vs_baseline === null ? null : ratios.train_vs_baseline >= TARGETS.train_vs_baseline,
};
emit({ bench: 'summary', model, rounds, statistic: 'median over rounds, best thread count', ...result, ratios, targets: TARGETS, targets_met: met, ...env, loadavg_end: loadavg().map((x) => +x.toFixed(2)), llama_cpp: llama?.release ?? llamaMissing, seconds: +((performance.now() - started) / 1000).toFixed(1) });

// ---- teardown ----
mtsF32?.dispose();
mtsBf16?.dispose();
trainer?.dispose();
await llama?.dispose();
emit({ bench: 'leak-check', live_tensors_after_dispose: liveTensorCount() });
