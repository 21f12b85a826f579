/**
 * GPU time of Mamba-2's chunked SSD forward at a mamba2-130m-like shape (batch 1, L 2048, 24 heads
 * of 64, one group, state 128, chunk 256): the fused forward (5 launches here, kernels/ssd.ts) against
 * the composed ops (ssdChunked with the backend's fused forward hidden), and Mamba-1's fused
 * selective scan at mamba-130m's shape (1536 channels, state 16) beside them. Each is recorded
 * `reps` times, then waited for once; one JSON line per (piece, L).
 *   node dist/bench/ssd.js
 *   BENCH_L=512,2048 BENCH_BATCH=1 BENCH_REPS=20 node dist/bench/ssd.js
 * scripts/ssd_triton_bench.py times mamba_ssm's Triton mamba_chunk_scan_combined on the same problem
 * (this shape, D, an initial state, the last state returned) and prints the same fields; keep the
 * shapes of the two equal.
 */
import { getBackend, initWebGPU } from '../src/backend/registry.js';
import type { WebGpuBackend } from '../src/backend/webgpu/index.js';
import { randomUniform, RandomSource, selectiveScan, ssdChunked } from '../src/ops/index.js';
import type { Tensor } from '../src/tensor/tensor.js';

const gpu = (await initWebGPU()) as WebGpuBackend;
const rng = new RandomSource(7);
const o = { device: 'webgpu' as const };
const lengths = (process.env['BENCH_L'] ?? '2048').split(',').map(Number);
const Bt = Number(process.env['BENCH_BATCH'] ?? 1);
const reps = Number(process.env['BENCH_REPS'] ?? 20);
const [H, P, G, N, T] = [24, 64, 1, 128, 256];
const r = (shape: number[], lo = -1, hi = 1) => randomUniform(shape, lo, hi, rng, o);

async function time(piece: string, L: number, shape: Record<string, number>, f: () => Tensor[]): Promise<void> {
  for (const t of f()) t.dispose();
  await gpu.sync();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) for (const t of f()) t.dispose();
  const host = performance.now() - t0;
  await gpu.sync();
  const total = performance.now() - t0;
  console.log(JSON.stringify({ bench: 'ssd_forward', piece, batch: Bt, L, ...shape, us_per_call: +((total * 1000) / reps).toFixed(1), host_us_per_call: +((host * 1000) / reps).toFixed(1) }));
}

const backend = getBackend('webgpu');
const fused = backend.ssdChunkedForward;
for (const L of lengths) {
  const x = r([Bt, L, H, P]);
  const dt = r([Bt, L, H], 0.001, 0.1);
  const A = r([H], -8, -1);
  const B = r([Bt, L, G, N]);
  const C = r([Bt, L, G, N]);
  const D = r([H]);
  const h0 = r([Bt, H, P, N]);
  const ssdShape = { heads: H, head_dim: P, groups: G, state: N, chunk: T };
  const run = () => {
    const s = ssdChunked(x, dt, A, B, C, T, { D, initialState: h0 });
    return [s.out, s.lastState];
  };
  await time('mamba2 ssd fused (5 launches)', L, ssdShape, run);
  backend.ssdChunkedForward = undefined;
  await time('mamba2 ssd composed ops', L, ssdShape, run);
  backend.ssdChunkedForward = fused;
  // Mamba-1 at mamba-130m's shape: E = 1536 channels, N = 16, softplus'd delta, z gate.
  const E1 = 1536;
  const s1 = { u: r([Bt, L, E1]), delta: r([Bt, L, E1], -4, -2), A: r([E1, 16], -2, -0.1), B: r([Bt, L, 16]), C: r([Bt, L, 16]), D: r([E1]), z: r([Bt, L, E1]) };
  await time('mamba1 selective scan (fused)', L, { channels: E1, state: 16 }, () => {
    const s = selectiveScan(s1.u, s1.delta, s1.A, s1.B, s1.C, { D: s1.D, z: s1.z, deltaSoftplus: true });
    return [s.out, s.lastState];
  });
  for (const t of [x, dt, A, B, C, D, h0, ...Object.values(s1)]) t.dispose();
}
process.exit(0);
