/**
 * GPU time of each kernel of a batch-1 decode step (mamba-130m shape unless BENCH_HIDDEN /
 * BENCH_VOCAB say otherwise): one token's launches are captured, then each launch is replayed
 * `reps` times back to back in one pass (barriers between them, as in the real step), so that the
 * host's recording cost (~2 µs a launch) stays below the GPU's. Also the whole token replayed.
 *   node dist/bench/gpu-kernels.js
 */
import { initWebGPU } from '../src/backend/registry.js';
import type { CapturedLaunch } from '../src/backend/webgpu/context.js';
import type { WebGpuBackend } from '../src/backend/webgpu/index.js';
import { MambaConfig } from '../src/models/mamba/config.js';
import { initMambaWeights } from '../src/models/mamba/init.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { argmax } from '../src/ops/index.js';

const gpu = (await initWebGPU()) as WebGpuBackend;
const H = Number(process.env['BENCH_HIDDEN'] ?? 768);
const V = Number(process.env['BENCH_VOCAB'] ?? 50280);
const model = new MambaForCausalLM(MambaConfig.create({ hidden_size: H, num_hidden_layers: 24, vocab_size: V, use_bias: false }));
initMambaWeights(model, 0, 'webgpu');
const cache = model.createCache(1);
for (let i = 0; i < 3; i++) {
  const lg = model.nextLogits([[i + 1]], cache);
  argmax(lg).dispose();
  lg.dispose();
}
await gpu.sync();
const launches: CapturedLaunch[] = [];
gpu.ctx.capture = launches;
const lg = model.nextLogits([[7]], cache);
const ids = argmax(lg);
gpu.ctx.capture = null;
await gpu.sync(); // writes this batch's uniforms; nothing else may run until the replays are done
const device = gpu.ctx.device;

async function replay(list: CapturedLaunch[], reps: number): Promise<number> {
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  for (let r = 0; r < reps; r++) {
    for (const l of list) {
      pass.setPipeline(l.pipe);
      if (l.offset === null) pass.setBindGroup(0, l.bindGroup);
      else pass.setBindGroup(0, l.bindGroup, [l.offset]);
      pass.dispatchWorkgroups(...l.groups);
    }
  }
  pass.end();
  const t0 = performance.now();
  device.queue.submit([enc.finish()]);
  await device.queue.onSubmittedWorkDone();
  return ((performance.now() - t0) * 1000) / reps;
}

const byKey = new Map<string, { launches: number; us: number; groups: [number, number, number] }>();
for (const l of launches) {
  await replay([l], 20); // warm
  const us = await replay([l], 300);
  const e = byKey.get(l.key) ?? { launches: 0, us: 0, groups: l.groups };
  e.launches++;
  e.us += us;
  byKey.set(l.key, e);
}
let sum = 0;
for (const [key, e] of byKey) {
  sum += e.us;
  console.log(JSON.stringify({ bench: 'decode_kernel', kernel: key, launches_per_token: e.launches, us_per_token: +e.us.toFixed(1), us_per_launch: +(e.us / e.launches).toFixed(2), groups: e.groups }));
}
await replay(launches, 10);
const token = await replay(launches, 200);
console.log(JSON.stringify({ bench: 'decode_token_gpu', hidden: H, vocab: V, launches: launches.length, us_sum_of_kernels: +sum.toFixed(1), us_token_replayed: +token.toFixed(1), tokens_per_s_gpu_bound: +(1e6 / token).toFixed(0) }));
ids.dispose();
lg.dispose();
cache.dispose();
model.dispose();
