/**
 * One `mamba-ts serve` decode step at batch B, as the scheduler runs it (RowBatchDecoder), with
 * every row sampling (temperature 0.8, its own seed): picked on the device (`device`: the rows'
 * options and generators on the device, only B ids read back, through the replayed decode step
 * where the model has one) against the host path serve took before (`host`: the (B, V) logits
 * read back, each row drawn on the host with its own generator). Random-weight Mamba of the
 * throughput bench's sizes (50,280-token vocabulary). Prints one JSON line per (batch, path).
 *
 *   node dist/bench/serve-step.js [--device webgpu] [--size 130m] [--batch 1,8,64] [--steps 64]
 */
import { parseArgs } from 'node:util';
import { initWebGPU, type DeviceName } from '../src/backend/registry.js';
import type { WebGpuBackend } from '../src/backend/webgpu/index.js';
import { Rng, pickNextToken } from '../src/generation/sampler.js';
import type { MambaCache } from '../src/models/mamba/cache.js';
import type { CausalLM } from '../src/generation/causal-lm.js';
import { RowBatchDecoder, type RowOutput, type RowPick } from '../src/serve/decoder.js';
import { buildModel, SIZES, type SizeName } from './throughput-models.js';

const { values: args } = parseArgs({
  options: {
    device: { type: 'string', default: 'cpu' },
    size: { type: 'string', default: '130m' },
    batch: { type: 'string', default: '1,8,64' },
    steps: { type: 'string', default: '64' },
  },
});
const device = args.device as DeviceName;
const size = args.size as SizeName;
if (!SIZES.includes(size)) throw new Error(`--size must be one of ${SIZES.join(', ')}`);
const steps = Number(args.steps);
let adapter: unknown;
if (device === 'webgpu') adapter = ((await initWebGPU()) as WebGpuBackend).adapterInfo;
const bench = buildModel('mamba', size, device);
const model = bench.lm as CausalLM<MambaCache>;
const sampling = { doSample: true, temperature: 0.8 };

async function run(B: number, path: 'device' | 'host'): Promise<void> {
  const decoder = new RowBatchDecoder(model);
  const rngs = Array.from({ length: B }, (_, b) => new Rng(b));
  const picks: RowPick[] = rngs.map((r) => (path === 'host' ? { kind: 'host' } : { kind: 'device', options: { temperature: 0.8 }, rngState: r.state() }));
  const last: number[] = [];
  const token = (out: RowOutput, b: number) => (out.kind === 'id' ? out.id : pickNextToken(out.logits, [], sampling, rngs[b]!));
  try {
    const rows = [];
    for (let b = 0; b < B; b++) {
      const { row, out } = await decoder.prefill([1 + b, 2, 3, 4], picks[b]!);
      rows.push(row);
      last.push(token(out, b));
    }
    decoder.regroup([], rows);
    const step = async () => (await decoder.step(last)).forEach((o, b) => (last[b] = token(o, b)));
    for (let i = 0; i < 4; i++) await step(); // recording and warm-up
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) await step();
    const s = (performance.now() - t0) / 1000;
    console.log(JSON.stringify({ bench: 'serve-step', device, size, batch: B, path, steps, ms_per_step: +((s * 1000) / steps).toFixed(2), tokens_per_s: Math.round((B * steps) / s), replayed_steps: decoder.replayedSteps, ...(adapter ? { adapter } : {}) }));
  } finally {
    decoder.dispose();
  }
}

for (const B of args.batch.split(',').map(Number)) {
  for (const path of ['host', 'device'] as const) await run(B, path);
}
bench.dispose();
