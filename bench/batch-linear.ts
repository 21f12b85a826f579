/**
 * GPU time of one projection of a decode batch, side by side in one process: the blocked gemv
 * (gemv4.ts) against each tile shape of the register-tiled kernel (batch-linear.ts: BATCH_TILES
 * and the K-group KSPLIT_TILES), and for the LM head the tiled matmul that a wide product over 32
 * rows took before (without its separate RMSNorm launch). Shapes: the projections of Mamba 130M / 1.4B and of the Llama baselines
 * (bench/throughput-models.ts), f32 weights; batches 16, 32, 64, 128 (BENCH_BATCH overrides).
 * Each launch is recorded once and replayed back to back in one pass; µs per launch is the
 * difference between 2·reps and reps replays (the submit's fixed cost cancels), as gpu-kernels.ts.
 * One JSON line per (shape, batch, kernel): us, tflops, and the tile `auto` picks.
 *   node dist/bench/batch-linear.js                 (npm run bench:batch-linear)
 *   BENCH_SHAPES=tiny node dist/bench/batch-linear.js   (small shapes: checks the script, e.g. on lavapipe)
 * In Mamba's decode step the in_proj gemv is fused with the conv step (normInProjConvKernel) and
 * the tiled in_proj with it as its epilogue (batchNormInProjConvKernel); both are timed here
 * without it, as the norm epilogue.
 */
import { initWebGPU } from '../src/backend/registry.js';
import type { GraphLaunch } from '../src/backend/webgpu/context.js';
import { Uniforms } from '../src/backend/webgpu/context.js';
import type { GpuStorage, WebGpuBackend } from '../src/backend/webgpu/index.js';
import { BATCH_TILES, KSPLIT_TILES, batchLinearGrid, batchLinearKernel, batchLinearTile, batchLinearUniforms, namedTile, type BatchEpilogue, type BatchTile } from '../src/backend/webgpu/kernels/batch-linear.js';
import { gemvGrid, linear4Kernel, linearResidual4Kernel, normLinear4Kernel, rowBlocks } from '../src/backend/webgpu/kernels/gemv4.js';
import { tiledMatmulKernel, tiledMatmulUniforms } from '../src/backend/webgpu/kernels/matmul.js';
import { randomUniform, RandomSource } from '../src/ops/index.js';
import type { Tensor } from '../src/tensor/tensor.js';

interface Shape {
  model: string;
  name: string;
  epi: BatchEpilogue;
  K: number;
  N: number;
}

const VOCAB = 50280;
const FULL: Shape[] = [
  { model: 'mamba-130m', name: 'in_proj+norm', epi: 'norm', K: 768, N: 3072 },
  { model: 'mamba-130m', name: 'x_proj', epi: 'plain', K: 1536, N: 80 },
  { model: 'mamba-130m', name: 'out_proj+residual', epi: 'residual', K: 1536, N: 768 },
  { model: 'mamba-130m', name: 'lm_head+norm', epi: 'norm', K: 768, N: VOCAB },
  { model: 'mamba-1.4b', name: 'in_proj+norm', epi: 'norm', K: 2048, N: 8192 },
  { model: 'mamba-1.4b', name: 'x_proj', epi: 'plain', K: 4096, N: 160 },
  { model: 'mamba-1.4b', name: 'out_proj+residual', epi: 'residual', K: 4096, N: 2048 },
  { model: 'mamba-1.4b', name: 'lm_head+norm', epi: 'norm', K: 2048, N: VOCAB },
  { model: 'llama-130m', name: 'q/k/v/o', epi: 'plain', K: 768, N: 768 },
  { model: 'llama-130m', name: 'gate/up', epi: 'plain', K: 768, N: 2240 },
  { model: 'llama-130m', name: 'down', epi: 'plain', K: 2240, N: 768 },
  { model: 'llama-1.3b', name: 'q/k/v/o', epi: 'plain', K: 2048, N: 2048 },
  { model: 'llama-1.3b', name: 'gate/up', epi: 'plain', K: 2048, N: 5888 },
  { model: 'llama-1.3b', name: 'down', epi: 'plain', K: 5888, N: 2048 },
];
const TINY: Shape[] = [
  { model: 'tiny', name: 'norm', epi: 'norm', K: 64, N: 96 },
  { model: 'tiny', name: 'plain', epi: 'plain', K: 36, N: 20 },
  { model: 'tiny', name: 'residual', epi: 'residual', K: 64, N: 64 },
];
const tiny = process.env['BENCH_SHAPES'] === 'tiny';
const shapes = tiny ? TINY : FULL;
const batches = (process.env['BENCH_BATCH'] ?? (tiny ? '16,20' : '16,32,64,128')).split(',').map(Number);
const MATMUL_MIN_N = 16384; // the wide products (index.ts WIDE_OUTPUTS) also run the tiled matmul

const gpu = (await initWebGPU()) as WebGpuBackend;
const device = gpu.ctx.device;
const rng = new RandomSource(1);
const rand = (shape: number[]): Tensor => randomUniform(shape, -1, 1, rng, { device: 'webgpu' });
const buf = (t: Tensor): GPUBuffer => (t.storage as GpuStorage).buffer;

/** The one launch `fn` records. */
function capture(fn: () => void): GraphLaunch {
  gpu.ctx.beginGraph();
  fn();
  const launches = gpu.ctx.endGraph().commands.filter((c): c is GraphLaunch => c.kind === 'dispatch');
  if (launches.length !== 1) throw new Error(`bench: expected one launch, got ${launches.length}`);
  return launches[0]!;
}

async function replay(l: GraphLaunch, reps: number): Promise<number> {
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(l.pipe);
  if (l.offsets === null) pass.setBindGroup(0, l.bindGroup);
  else pass.setBindGroup(0, l.bindGroup, l.offsets);
  for (let r = 0; r < reps; r++) pass.dispatchWorkgroups(...l.groups);
  pass.end();
  const t0 = performance.now();
  device.queue.submit([enc.finish()]);
  await device.queue.onSubmittedWorkDone();
  return (performance.now() - t0) * 1000;
}

/** µs per launch: reps chosen so that one timed pass takes ~10 ms (at least 10 launches). */
async function perLaunch(l: GraphLaunch): Promise<number> {
  const probe = (await replay(l, 10)) / 10;
  const reps = Math.max(10, Math.min(2000, Math.round(10000 / Math.max(probe, 1))));
  const once = await replay(l, reps);
  return ((await replay(l, 2 * reps)) - once) / reps;
}

type Kernel = 'gemv' | 'matmul' | BatchTile['name'];

function launch(kind: Kernel, s: Shape, B: number, t: { x: Tensor; w: Tensor; y: Tensor; extra: Tensor; dummy: Tensor }): GraphLaunch {
  const { K, N, epi } = s;
  return capture(() => {
    if (kind === 'gemv') {
      const rb = rowBlocks(B);
      const g = gemvGrid(N, K, rb);
      if (epi === 'norm') gpu.ctx.dispatch(normLinear4Kernel(rb, K, 'f32'), [buf(t.x), buf(t.w), buf(t.dummy), buf(t.y), buf(t.extra)], new Uniforms(20).u32(N, g[0]).f32(1e-5).u32(0, B).buffer, g);
      else if (epi === 'residual') gpu.ctx.dispatch(linearResidual4Kernel(rb, K, 'f32'), [buf(t.x), buf(t.w), buf(t.dummy), buf(t.y), buf(t.extra)], new Uniforms(16).u32(N, g[0], 0, B).buffer, g);
      else gpu.ctx.dispatch(linear4Kernel(rb, K, 'f32'), [buf(t.x), buf(t.w), buf(t.dummy), buf(t.y)], new Uniforms(16).u32(N, g[0], 0, B).buffer, g);
    } else if (kind === 'matmul') {
      // index.ts's choice: the largest tile that gives two waves of 128 workgroups.
      const tiles = (e: number) => Math.ceil(B / e) * Math.ceil(N / e);
      const tile = tiles(128) >= 256 ? 128 : tiles(64) >= 256 ? 64 : 32;
      gpu.ctx.dispatch(tiledMatmulKernel(false, true, (tile / 16) as 2 | 4 | 8, 'f32'), [buf(t.x), buf(t.w), buf(t.y)], tiledMatmulUniforms(B, N, K, 0, 0), [Math.ceil(N / tile), Math.ceil(B / tile), 1]);
    } else {
      const tile = namedTile(kind)!;
      const bufs = [buf(t.x), buf(t.w), buf(t.dummy), buf(t.y), ...(epi === 'plain' ? [] : [buf(t.extra)])];
      gpu.ctx.dispatch(batchLinearKernel(tile, K, 'f32', epi), bufs, batchLinearUniforms(N, B, null, 1e-5), batchLinearGrid(tile, B, N));
    }
  });
}

const t0 = performance.now();
const maxB = Math.max(...batches);
for (const s of shapes) {
  const w = rand([s.N, s.K]);
  const x = rand([maxB, s.K]);
  const y = rand([maxB, s.N]);
  const extra = s.epi === 'residual' ? rand([maxB, s.N]) : rand([s.K]);
  const dummy = rand([4]);
  await gpu.sync();
  const kinds: Kernel[] = ['gemv', ...[...BATCH_TILES, ...KSPLIT_TILES].map((t) => t.name), ...(s.N >= MATMUL_MIN_N ? ['matmul' as const] : [])];
  for (const B of batches) {
    for (const kind of kinds) {
      const l = launch(kind, s, B, { x, w, y, extra, dummy });
      await gpu.sync();
      const us = await perLaunch(l);
      const flops = 2 * B * s.N * s.K;
      console.log(
        JSON.stringify({ bench: 'batch_linear', model: s.model, proj: s.name, epi: s.epi, K: s.K, N: s.N, batch: B, kernel: kind, auto: batchLinearTile(B, s.N, s.K, 'auto')?.name ?? 'gemv', groups: l.groups, us: +us.toFixed(2), tflops: +(flops / us / 1e6).toFixed(2) }),
      );
    }
  }
  for (const v of [w, x, y, extra, dummy]) v.dispose();
}
console.log(JSON.stringify({ bench: 'batch_linear_done', seconds: +((performance.now() - t0) / 1000).toFixed(1) }));
