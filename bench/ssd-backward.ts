/**
 * GPU time of Mamba-2's chunked SSD forward + backward (a training step's SSD) at a
 * mamba2-130m-like shape (batch 1, L 2048, 24 heads of 64, one group, state 128, chunk 256, with D
 * and an initial state): the fused forward and backward (kernels/ssd.ts, kernels/ssd-backward.ts)
 * against the composed ops with their tape gradients (MAMBA_TS_SSD_BACKWARD=composed). The
 * gradient of the output is given (dy), so only the SSD's own work is timed; every input gets a
 * gradient. Each is recorded `reps` times, then waited for once; one JSON line per (path, L).
 *   node dist/bench/ssd-backward.js
 *   BENCH_L=512,2048 BENCH_BATCH=1 BENCH_REPS=10 node dist/bench/ssd-backward.js
 *   BENCH_SMALL=1 node dist/bench/ssd-backward.js    (a tiny shape, to check it runs, e.g. on lavapipe)
 */
import { backward } from '../src/autograd/backward.js';
import { markLeaf, type GradSlot } from '../src/autograd/tape.js';
import { initWebGPU } from '../src/backend/registry.js';
import type { WebGpuBackend } from '../src/backend/webgpu/index.js';
import { randomUniform, RandomSource, ssdChunked } from '../src/ops/index.js';
import type { Tensor } from '../src/tensor/tensor.js';

const gpu = (await initWebGPU()) as WebGpuBackend;
const rng = new RandomSource(7);
const o = { device: 'webgpu' as const };
const small = process.env['BENCH_SMALL'] === '1';
const lengths = (process.env['BENCH_L'] ?? (small ? '40' : '2048')).split(',').map(Number);
const Bt = Number(process.env['BENCH_BATCH'] ?? 1);
const reps = Number(process.env['BENCH_REPS'] ?? (small ? 2 : 10));
const [H, P, G, N, T] = small ? [4, 16, 1, 16, 16] : [24, 64, 1, 128, 256];
const r = (shape: number[], lo = -1, hi = 1) => randomUniform(shape, lo, hi, rng, o);

for (const L of lengths) {
  const inputs = {
    x: r([Bt, L, H, P]),
    dt: r([Bt, L, H], 0.001, 0.1),
    A: r([H], -8, -1),
    B: r([Bt, L, G, N]),
    C: r([Bt, L, G, N]),
    D: r([H]),
    h0: r([Bt, H, P, N]),
  };
  const slots = Object.values(inputs).map((t) => {
    const slot: GradSlot = { grad: null };
    markLeaf(t, slot);
    return slot;
  });
  const dy = r([Bt, L, H, P]);
  const step = () => {
    const { x, dt, A, B, C, D, h0 } = inputs;
    const s = ssdChunked(x, dt, A, B, C, Math.min(T, L), { D, initialState: h0 });
    backward(s.out, dy);
    s.out.dispose();
    s.lastState.dispose();
    for (const slot of slots) {
      slot.grad?.dispose();
      slot.grad = null;
    }
  };
  for (const path of ['fused', 'composed'] as const) {
    if (path === 'composed') process.env['MAMBA_TS_SSD_BACKWARD'] = 'composed';
    else delete process.env['MAMBA_TS_SSD_BACKWARD'];
    step(); // warm-up: pipelines compiled, buffers pooled
    await gpu.sync();
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) step();
    const host = performance.now() - t0;
    await gpu.sync();
    const total = performance.now() - t0;
    console.log(
      JSON.stringify({
        bench: 'ssd_forward_backward',
        path: path === 'fused' ? 'fused forward + backward' : 'composed ops + tape',
        batch: Bt,
        L,
        heads: H,
        head_dim: P,
        groups: G,
        state: N,
        chunk: Math.min(T, L),
        us_per_step: +((total * 1000) / reps).toFixed(1),
        host_us_per_step: +((host * 1000) / reps).toFixed(1),
      }),
    );
  }
  delete process.env['MAMBA_TS_SSD_BACKWARD'];
  for (const t of [...Object.values(inputs), dy] as Tensor[]) t.dispose();
}
process.exit(0);
