/**
 * GPU time of one decode step's token pick (WebGPU): the argmax against sampleTokens with each
 * warper, for a batch of rows of a 50k vocabulary. Each pick is recorded once and replayed
 * back to back, so the host's cost per launch stays below the GPU's.
 *   node dist/bench/gpu-sample.js [V]
 */
import { initWebGPU } from '../src/backend/registry.js';
import type { WebGpuBackend } from '../src/backend/webgpu/index.js';
import { argmax, randomUniform, RandomSource, sampleTokens, tensor, type SampleTokensOptions } from '../src/ops/index.js';
import { Rng } from '../src/generation/sampler.js';
import type { Tensor } from '../src/tensor/tensor.js';

const gpu = (await initWebGPU()) as WebGpuBackend;
const V = Number(process.argv[2] ?? 50280);
const reps = 200;
const picks: [string, SampleTokensOptions | null][] = [
  ['argmax', null],
  ['sample', {}],
  ['temperature', { temperature: 0.7 }],
  ['top-k 50', { topK: 50 }],
  ['top-p 0.9', { topP: 0.9 }],
  ['min-p 0.05', { minP: 0.05 }],
  ['all four', { temperature: 0.7, topK: 50, topP: 0.9, minP: 0.05 }],
];
for (const B of [1, 8, 64, 128]) {
  const logits = randomUniform([B, V], -8, 8, new RandomSource(B), { device: 'webgpu' });
  const state = tensor(Int32Array.from(Array.from({ length: B }, (_, b) => new Rng(b).state()).flat()), [B, 4], { device: 'webgpu' });
  for (const [name, o] of picks) {
    let out: Tensor | null = null;
    const work = gpu.recordWork(() => {
      out = o ? sampleTokens(logits, state, o) : argmax(logits);
    });
    if (!work) throw new Error('not replayable');
    for (let i = 0; i < 10; i++) work.replay();
    await gpu.sync();
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) work.replay();
    await gpu.sync();
    const us = ((performance.now() - t0) / reps) * 1000;
    console.log(JSON.stringify({ bench: 'gpu_sample', B, V, pick: name, us_per_step: Math.round(us * 10) / 10 }));
    work.dispose();
    (out as Tensor | null)?.dispose();
  }
  logits.dispose();
  state.dispose();
}
