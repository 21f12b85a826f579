/**
 * GPU time of the pieces of one batch-1 decode step of a mamba-130m-shaped model: the fused layer
 * step (3 launches), the LM head, argmax. Each is recorded 500 times, then waited for once.
 *   node dist/bench/gpu-step.js
 *   BENCH_BATCH=1,8,64,128 node dist/bench/gpu-step.js   # the batched step and LM head only
 */
import { initWebGPU } from '../src/backend/registry.js';
import type { WebGpuBackend } from '../src/backend/webgpu/index.js';
import { argmax, linear, mambaBlockStepFused, randomUniform, RandomSource, rmsNorm } from '../src/ops/index.js';
import type { Tensor } from '../src/tensor/tensor.js';

const gpu = (await initWebGPU()) as WebGpuBackend;
const rng = new RandomSource(5);
const o = { device: 'webgpu' as const };
// BENCH_HIDDEN shrinks the model (same launches, little GPU work) to tell host-bound from GPU-bound.
const H = Number(process.env['BENCH_HIDDEN'] ?? 768), E = 2 * H, N = 16, R = Math.ceil(H / 16), K = 4;
const V = Number(process.env['BENCH_VOCAB'] ?? 50280);
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

// BENCH_BATCH=1,8,64: the fused layer step and the LM head (norm_f fused) at those batch sizes
// (blocked kernels over 4 rows; MAMBA_TS_GEMV_ROWS picks the block), and nothing else.
if (process.env['BENCH_BATCH']) {
  const { rmsNormLinear } = await import('../src/ops/index.js');
  for (const B of process.env['BENCH_BATCH'].split(',').map(Number)) {
    const wb = { ...w, h: r([B, H]), convState: r([B, E, K - 1]), ssmState: r([B, E, N]) };
    await time(`fused_layer_step B=${B}`, () => {
      const s = mambaBlockStepFused({ ...wb, eps: 1e-5, inProjBias: null, outProjBias: null })!;
      return [s.out, s.convState, s.ssmState];
    }, 200);
    await time(`norm_lm_head B=${B}`, () => [rmsNormLinear(wb.h, w.normWeight, 1e-5, emb)], 200);
    for (const t of [wb.h, wb.convState, wb.ssmState]) t.dispose();
  }
  process.exit(0);
}

await time('fused_layer_step (3 launches)', () => {
  const s = mambaBlockStepFused({ ...w, eps: 1e-5, inProjBias: null, outProjBias: null })!;
  return [s.out, s.convState, s.ssmState];
});
await time('lm_head gemv 768x50280', () => [linear(w.h, emb)]);
await time('norm_f', () => [rmsNorm(w.h, w.normWeight, 1e-5)]);
const logits = linear(w.h, emb);
await time('argmax 50280', () => [argmax(logits)]);

// Where a decode token's time goes, in the loop generate() runs (mamba-130m shape, greedy, ids on
// the GPU, read back 8 steps at a time): host time to record the steps, host time of the submits
// (and of creating command encoders), and wall time per token.
{
  const { MambaConfig } = await import('../src/models/mamba/config.js');
  const { MambaForCausalLM } = await import('../src/models/mamba/modeling.js');
  const { initMambaWeights } = await import('../src/models/mamba/init.js');
  const { reshape } = await import('../src/ops/index.js');
  const { keep, tidy } = await import('../src/tensor/memory.js');
  const model = new MambaForCausalLM(MambaConfig.create({ hidden_size: H, num_hidden_layers: 24, vocab_size: V, use_bias: false }));
  initMambaWeights(model, 0, 'webgpu');
  const cache = model.createCache(1);
  let next: Tensor | number[][] = [[1, 2, 3]];
  const readEvery = 8;
  const pending: { ids: Tensor[]; data: Promise<unknown> }[] = [];
  let group: Tensor[] = [];
  let record = 0;
  let submit = 0;
  const steps = 400;
  const warm = 24;
  const st = gpu.ctx.stats;
  let base = { ...st };
  let t0 = 0;
  for (let s = 0; s < steps + warm; s++) {
    if (s === warm) {
      record = submit = 0;
      base = { ...st };
      t0 = performance.now();
    }
    const a = performance.now();
    const logits = model.nextLogits(next, cache);
    const ids: Tensor = keep(tidy(() => reshape(argmax(logits), [1, 1])));
    logits.dispose();
    record += performance.now() - a;
    group.push(ids);
    next = ids;
    if (group.length === readEvery) {
      const b = performance.now();
      pending.push({ ids: group, data: ids.data() }); // flushes: the submit happens here
      submit += performance.now() - b;
      group = [];
    }
    if (pending.length > 1) {
      const p = pending.shift()!;
      await p.data;
      for (const t of p.ids) t.dispose();
    }
  }
  const wall = performance.now() - t0;
  const per = (x: number) => +((x * 1000) / steps).toFixed(1);
  console.log(
    JSON.stringify({
      bench: 'decode_breakdown',
      hidden: H,
      vocab: V,
      read_every: readEvery,
      record_us_per_token: per(record),
      submit_us_per_token: per(submit),
      wall_us_per_token: per(wall),
      encoder_us_per_token: per(st.encoderMs - base.encoderMs),
      flush_us_per_token: per(st.submitMs - base.submitMs),
      bind_group_misses_per_token: +((st.bindGroupMisses - base.bindGroupMisses) / steps).toFixed(2),
      bind_group_hits_per_token: +((st.bindGroupHits - base.bindGroupHits) / steps).toFixed(2),
      submits_per_token: +((st.submits - base.submits) / steps).toFixed(3),
    }),
  );
  for (const p of pending) for (const t of p.ids) t.dispose();
  for (const t of group) t.dispose();
  cache.dispose();
  model.dispose();
}
