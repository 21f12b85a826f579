/**
 * What one replayed Jamba decode step records (JambaDecodeStepper's graph): its launches, copies
 * and clears, in total and per kind of layer, with Jamba's Mamba layers through the fused step
 * (mambaBlockStep with the inner norms) and, for comparison, op by op (the fused step declined).
 * The layer structure is the throughput benchmark's (bench/throughput-models.ts: 16 layers, one
 * attention layer in eight, MoE in every other); the counts do not depend on the widths, so
 * --hidden can be small (a software adapter records it in seconds).
 *   node dist/bench/jamba-step-launches.js [--hidden 64] [--batch 1,8] [--keys]   # --keys: launches per kernel too
 */
import { parseArgs } from 'node:util';
import { initWebGPU } from '../src/backend/registry.js';
import type { WebGpuBackend } from '../src/backend/webgpu/index.js';
import type { LaunchGraph } from '../src/backend/webgpu/context.js';
import { JambaConfig } from '../src/models/jamba/config.js';
import { initJambaWeights } from '../src/models/jamba/init.js';
import { JambaForCausalLM } from '../src/models/jamba/modeling.js';
import { argmax, reshape } from '../src/ops/index.js';
import { jambaConfig } from './throughput-models.js';

const { values } = parseArgs({ options: { hidden: { type: 'string', default: '64' }, batch: { type: 'string', default: '1,8' }, keys: { type: 'boolean', default: false } } });
const gpu = (await initWebGPU()) as WebGpuBackend;
const H = Number(values.hidden);
const base = jambaConfig('130m').toJSON();
const config = JambaConfig.fromJSON({ ...base, hidden_size: H, intermediate_size: 2 * H, vocab_size: 256, num_attention_heads: 4, num_key_value_heads: 2 }, 'jamba-step-launches');

/** The commands of the graph recorded by the first decode step, by kind. */
async function countStep(model: JambaForCausalLM, B: number): Promise<Record<string, number | Record<string, number>>> {
  const cache = model.createCache(B);
  const logits = await model.nextLogits(Array.from({ length: B }, (_, b) => [1 + b, 2, 3]), cache);
  const ids = reshape(argmax(logits), [B, 1]);
  logits.dispose();
  const stepper = model.decodeStepper(cache, (l) => reshape(argmax(l), [B, 1]));
  if (!stepper) throw new Error('no decode stepper');
  const ctx = gpu.ctx;
  const endGraph = ctx.endGraph.bind(ctx);
  let graph: LaunchGraph | null = null;
  ctx.endGraph = () => (graph = endGraph());
  try {
    stepper.step(ids);
  } finally {
    ctx.endGraph = endGraph;
  }
  if (!graph) throw new Error('the step was not recorded');
  const counts: Record<string, number | Record<string, number>> = { dispatch: 0, copy: 0, clear: 0 };
  const keys: Record<string, number> = {};
  for (const c of (graph as LaunchGraph).commands) {
    counts[c.kind] = ((counts[c.kind] as number | undefined) ?? 0) + 1;
    if (c.kind === 'dispatch') keys[c.key] = (keys[c.key] ?? 0) + 1;
  }
  if (values.keys) counts['kernels'] = keys;
  ids.dispose();
  stepper.dispose();
  cache.dispose();
  return counts;
}

const model = new JambaForCausalLM(config);
initJambaWeights(model, 3, 'webgpu');
const mambaLayers = model.model.layers.filter((l) => l.mamba).length;
const fused = gpu.mambaBlockStep.bind(gpu);
for (const B of values.batch.split(',').map(Number)) {
  for (const path of ['fused', 'op-by-op'] as const) {
    gpu.mambaBlockStep = path === 'fused' ? fused : () => null;
    const counts = await countStep(model, B);
    console.log(JSON.stringify({ bench: 'jamba_step_launches', batch: B, mamba_path: path, layers: model.model.layers.length, mamba_layers: mambaLayers, ...counts }));
  }
}
gpu.mambaBlockStep = fused;
model.dispose();
