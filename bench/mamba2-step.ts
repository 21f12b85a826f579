/**
 * GPU time of one Mamba-2 layer's decode step at a mamba2-130m shape (hidden 768, 24 heads of 64,
 * state 128, one group): the fused step (3 launches, kernels/mamba2-step.ts) against the op-by-op
 * step, and Mamba-1's fused step at mamba-130m's shape beside them. Each is recorded `reps` times,
 * then waited for once; one JSON line per (piece, batch).
 *   node dist/bench/mamba2-step.js
 *   BENCH_BATCH=1,8,64 BENCH_HIDDEN=768 node dist/bench/mamba2-step.js
 */
import { getBackend, initWebGPU } from '../src/backend/registry.js';
import type { WebGpuBackend } from '../src/backend/webgpu/index.js';
import { Mamba2Config } from '../src/models/mamba2/config.js';
import { initMamba2Weights } from '../src/models/mamba2/init.js';
import { Mamba2ForCausalLM } from '../src/models/mamba2/modeling.js';
import { mambaBlockStepFused, randomUniform, RandomSource } from '../src/ops/index.js';
import type { Tensor } from '../src/tensor/tensor.js';

const gpu = (await initWebGPU()) as WebGpuBackend;
const rng = new RandomSource(5);
const o = { device: 'webgpu' as const };
const D = Number(process.env['BENCH_HIDDEN'] ?? 768);
const batches = (process.env['BENCH_BATCH'] ?? '1,8,64').split(',').map(Number);
const reps = Number(process.env['BENCH_REPS'] ?? 200);
const r = (shape: number[], lo = -0.1, hi = 0.1) => randomUniform(shape, lo, hi, rng, o);

async function time(piece: string, B: number, f: () => Tensor[]): Promise<void> {
  for (const t of f()) t.dispose();
  await gpu.sync();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) for (const t of f()) t.dispose();
  const host = performance.now() - t0;
  await gpu.sync();
  const total = performance.now() - t0;
  console.log(JSON.stringify({ bench: 'layer_decode_step', piece, batch: B, us_per_call: +((total * 1000) / reps).toFixed(1), host_us_per_call: +((host * 1000) / reps).toFixed(1) }));
}

const m2 = new Mamba2ForCausalLM(Mamba2Config.create({ hidden_size: D, head_dim: 64, n_groups: 1, state_size: 128, num_hidden_layers: 1, vocab_size: 16 }));
initMamba2Weights(m2, 3, 'webgpu');
const block = m2.backbone.layers[0]!;
const f = m2.config.fields;
const fused = getBackend('webgpu').mamba2BlockStep;

// Mamba-1 at mamba-130m's shape (E = 2D, N = 16, dt_rank D/16), as bench/gpu-step.ts.
const E1 = 2 * D, N1 = 16, R1 = Math.ceil(D / 16), K1 = 4;
const w1 = {
  normWeight: r([D], 0.9, 1.1), inProj: r([2 * E1, D]), convWeight: r([E1, K1]), convBias: r([E1]), xProj: r([R1 + 2 * N1, E1]),
  dtProj: r([E1, R1]), dtProjBias: r([E1], -4, -2), A: r([E1, N1], -2, -0.1), D: r([E1]), outProj: r([D, E1]),
};

for (const B of batches) {
  const h = r([B, 1, D]);
  const state = { conv: r([B, m2.config.convDim, f.conv_kernel - 1]), ssm: r([B, f.num_heads, f.head_dim, f.state_size]) };
  const backend = getBackend('webgpu');
  await time('mamba2 fused (3 launches)', B, () => [block.step(h, state, true).out]);
  backend.mamba2BlockStep = undefined;
  await time('mamba2 op by op', B, () => [block.step(h, state, true).out]);
  backend.mamba2BlockStep = fused;
  const s1 = { h: r([B, D]), convState: r([B, E1, K1 - 1]), ssmState: r([B, E1, N1]) };
  await time('mamba1 fused (3 launches)', B, () => {
    const s = mambaBlockStepFused({ ...w1, ...s1, eps: 1e-5, inProjBias: null, outProjBias: null })!;
    return [s.out, s.convState, s.ssmState];
  });
  for (const t of [h, state.conv, state.ssm, s1.h, s1.convState, s1.ssmState]) t.dispose();
}
process.exit(0);
