/**
 * The host time of a generation's fixed costs at batch 1: the recordings of the decode step (two
 * per generate(), one per parity of the state buffers) and the replayed steps. On a fast GPU the
 * device waits for the host at the start of decoding, so a recording's host time adds to the
 * decode time (docs/throughput.md, the third session's batch-1 paragraph).
 *
 * Mamba (and Jamba) at the 130M shapes of bench/throughput-models.ts, but with a vocabulary that
 * fits lavapipe's binding limit (32,000 × 768 floats: 98 MB of 128). With lavapipe the device's work
 * runs on the same CPUs, so only the host-time figures mean anything, and they are noisy: each
 * (model) runs `runs` generations after one warm-up, and the line gives every run's figures and
 * their medians.
 *
 *   node dist/bench/record-cost.js [--device webgpu] [--models mamba,jamba] [--vocab 32000]
 *     [--prompt 8] [--gen 16] [--runs 7]
 * One JSON line per (model, run) and one with the medians:
 *   record_ms   host time of each step that was not replayed (the recordings), in order;
 *   replay_ms_per_step   mean host time of a replayed step;
 *   bind_groups_made, packs_made   (WebGPU) bind groups created and parameter packs made in the run.
 */
import { parseArgs } from 'node:util';
import { getBackend, initWebGPU, type DeviceName } from '../src/backend/registry.js';
import type { WebGpuBackend } from '../src/backend/webgpu/index.js';
import { ArgumentError } from '../src/errors.js';
import { generate } from '../src/generation/generate.js';
import { buildModel, type ModelName } from './throughput-models.js';
import { TimedLM } from './timed-lm.js';

const { values } = parseArgs({
  options: {
    device: { type: 'string', default: 'webgpu' },
    models: { type: 'string', default: 'mamba' },
    vocab: { type: 'string', default: '32000' },
    prompt: { type: 'string', default: '8' },
    gen: { type: 'string', default: '16' },
    runs: { type: 'string', default: '7' },
  },
});

function positiveInt(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new ArgumentError(`--${flag}: expected an integer >= 1, got ${JSON.stringify(text)}`);
  return n;
}
const device = values.device as DeviceName;
if (device !== 'webgpu' && device !== 'cpu') throw new ArgumentError(`--device: expected webgpu or cpu, got ${JSON.stringify(values.device)}`);
const models = values.models.split(',').map((m) => m.trim());
for (const m of models) if (m !== 'mamba' && m !== 'jamba') throw new ArgumentError(`--models: expected mamba and/or jamba, got ${JSON.stringify(m)}`);
const vocab = positiveInt('vocab', values.vocab);
const promptLength = positiveInt('prompt', values.prompt);
const gen = positiveInt('gen', values.gen);
const runs = positiveInt('runs', values.runs);

if (device === 'webgpu') await initWebGPU();
const backend = getBackend(device);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const r3 = (x: number) => +x.toFixed(3);

for (const name of models as ModelName[]) {
  const m = buildModel(name, '130m', device, vocab);
  const ids = [Array.from({ length: promptLength }, (_, i) => (i * 7919 + 1) % vocab)];
  const records: number[] = [];
  const replays: number[] = [];
  for (let run = -1; run < runs; run++) {
    const timed = new TimedLM(m.lm, promptLength, backend);
    const gpu = device === 'webgpu' ? (backend as WebGpuBackend) : null;
    const missesBefore = gpu?.ctx.stats.bindGroupMisses ?? 0;
    const packsBefore = gpu?.packsMade ?? 0;
    await generate(timed, ids, { maxNewTokens: gen, eosTokenId: null });
    const replayed = timed.stepper?.replayed ?? 0;
    const perStep = replayed ? timed.replayHostMs / replayed : NaN;
    if (run < 0) continue; // the warm-up: pipelines, buffers, the JIT
    records.push(...timed.otherStepsMs);
    if (replayed) replays.push(perStep);
    console.log(JSON.stringify({ model: name, run, record_ms: timed.otherStepsMs.map(r3), replayed_steps: replayed, replay_ms_per_step: r3(perStep), bind_groups_made: (gpu?.ctx.stats.bindGroupMisses ?? 0) - missesBefore, packs_made: (gpu?.packsMade ?? 0) - packsBefore }));
  }
  console.log(
    JSON.stringify({ model: name, vocab, prompt: promptLength, gen, runs, median_record_ms: r3(median(records)), median_replay_ms_per_step: r3(median(replays)), device }),
  );
  m.dispose();
}
