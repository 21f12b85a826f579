/**
 * GPU time of the pieces of one batch-1 decode step of a mamba-130m-shaped model: the fused layer
 * step (4 launches), the LM head, argmax. Each is recorded 500 times, then waited for once.
 *   node dist/bench/gpu-step.js
 */
import { initWebGPU } from '../src/backend/registry.js';
import type { WebGpuBackend } from '../src/backend/webgpu/index.js';
import { argmax, linear, mambaBlockStepFused, randomUniform, RandomSource, rmsNorm } from '../src/ops/index.js';
import type { Tensor } from '../src/tensor/tensor.js';

const gpu = (await initWebGPU()) as WebGpuBackend;
const rng = new RandomSource(5);
const o = { device: 'webgpu' as const };
const H = 768, E = 1536, N = 16, R = 48, K = 4, V = Number(process.env["BENCH_VOCAB"] ?? 50280);
const r = (shape: number[], lo = -0.1, hi = 0.1) => randomUniform(shape, lo, hi, rng, o);
const w = {
  h: r([1, H]), normWeight: r([H], 0.9, 1.1), inProj: r([2 * E, H]), convWeight: r([E, K]), convBias: r([E]),
  convState: r([1, E, K - 1]), xProj: r([R + 2 * N, E]), dtProj: r([E, R]), dtProjBias: r([E], -4, -2),
  A: r([E, N], -2, -0.1), D: r([E]), outProj: r([H, E]), ssmState: r([1, E, N]),
};
const emb = r([V, H]);

async function time(label: string, f: () => Tensor[], reps = 500): Promise<void> {
  for (const t of f()) t.dispose();
  await gpu.sync();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) for (const t of f()) t.dispose();
  const host = performance.now() - t0;
  await gpu.sync();
  const total = performance.now() - t0;
  console.log(JSON.stringify({ bench: 'decode_piece', piece: label, us_per_call: +((total * 1000) / reps).toFixed(1), host_us_per_call: +((host * 1000) / reps).toFixed(1) }));
}

await time('fused_layer_step (4 launches)', () => {
  const s = mambaBlockStepFused({ ...w, eps: 1e-5, inProjBias: null, outProjBias: null })!;
  return [s.out, s.convState, s.ssmState];
});
await time('lm_head gemv 768x50280', () => [linear(w.h, emb)]);
await time('norm_f', () => [rmsNorm(w.h, w.normWeight, 1e-5)]);
const logits = linear(w.h, emb);
await time('argmax 50280', () => [argmax(logits)]);
