/**
 * WebGPU overheads that bound batch-1 decoding, one JSON line each: host cost of one recorded
 * dispatch, one read-back round trip, and the tiled matmul's throughput at prefill shapes.
 *   node dist/bench/gpu-overhead.js
 */
import { initWebGPU } from '../src/backend/registry.js';
import type { WebGpuBackend } from '../src/backend/webgpu/index.js';
import { affine, linear, randomUniform, RandomSource } from '../src/ops/index.js';

const gpu = (await initWebGPU()) as WebGpuBackend;
const emit = (o: Record<string, unknown>) => console.log(JSON.stringify({ ...o, adapter: gpu.adapterInfo }));
const rng = new RandomSource(3);
const x = randomUniform([256], -1, 1, rng, { device: 'webgpu' });
/** `node dist/bench/gpu-overhead.js launch` runs only the launch-cost part. */
const only = process.argv[2];

// Host cost per dispatch: 2,000 tiny kernels recorded, then one wait.
for (let rep = 0; rep < 3 && only !== 'launch'; rep++) {
  const t0 = performance.now();
  for (let i = 0; i < 2000; i++) affine(x, 1.0001, 0).dispose();
  const t1 = performance.now();
  await gpu.sync();
  const t2 = performance.now();
  emit({ bench: 'dispatch_overhead', rep, host_us_per_dispatch: +(((t1 - t0) * 1000) / 2000).toFixed(2), total_us_per_dispatch: +(((t2 - t0) * 1000) / 2000).toFixed(2) });
}

// Read-back round trip: one tiny kernel, then read 4 bytes.
for (let rep = 0; rep < 2 && only !== 'launch'; rep++) {
  const n = 200;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const y = affine(x, 1, 1);
    await y.data();
    y.dispose();
  }
  emit({ bench: 'readback_roundtrip', rep, ms: +((performance.now() - t0) / n).toFixed(4) });
}

// Matmul throughput (x · Wᵀ, the Linear layout) at mamba-130m prefill shapes.
for (const [M, K, N] of [
  [2048, 768, 3072],
  [2048, 1536, 768],
  [2048, 1536, 80],
  [4096, 4096, 4096],
] as const) {
  if (only === 'launch') break;
  const a = randomUniform([M, K], -1, 1, rng, { device: 'webgpu' });
  const w = randomUniform([N, K], -1, 1, rng, { device: 'webgpu' });
  linear(a, w).dispose();
  await gpu.sync();
  const reps = 20;
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) linear(a, w).dispose();
  await gpu.sync();
  const ms = (performance.now() - t0) / reps;
  emit({ bench: 'matmul_nt', M, K, N, ms: +ms.toFixed(4), tflops: +((2 * M * K * N) / ms / 1e9).toFixed(2) });
  a.dispose();
  w.dispose();
}

// Host cost of a launch against the number of storage buffers it binds (bind groups cached, 100
// launches per submit, as in a decode step): record time and submit time per launch.
for (const nb of [2, 6, 11]) {
  const decls = Array.from({ length: nb }, (_, i) => `@group(0) @binding(${i}) var<storage, read_write> b${i}: array<f32>;`).join('\n');
  const touch = Array.from({ length: nb }, (_, i) => `b${i}[0] += 1.0;`).join(' ');
  const kernel = { key: `probe_bindings_${nb}`, code: () => `${decls}\n@compute @workgroup_size(1) fn main() { ${touch} }` };
  const bufs = Array.from({ length: nb }, () => gpu.ctx.buffer(256, 'probe'));
  let record = 0;
  let submit = 0;
  for (let rep = 0; rep < 30; rep++) {
    const t0 = performance.now();
    for (let i = 0; i < 100; i++) gpu.ctx.dispatch(kernel, bufs, null, [1]);
    const t1 = performance.now();
    gpu.ctx.flush();
    const t2 = performance.now();
    if (rep >= 5) {
      record += t1 - t0;
      submit += t2 - t1;
    }
    await gpu.sync();
  }
  emit({ bench: 'launch_cost_by_bindings', bindings: nb, record_us: +((record * 1000) / 2500).toFixed(2), submit_us: +((submit * 1000) / 2500).toFixed(2) });
  for (const b of bufs) gpu.ctx.release(b);
}
