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

// Host cost of a launch (bind groups cached, 100 launches per submit, as in a decode step): record
// and submit time per launch, against the number of storage buffers bound, with uniforms or not,
// one pipeline or alternating, small or large buffers.
async function launchCost(label: string, nb: number, o: { uniforms: boolean; pipelines: number; bytes: number; sets?: number }): Promise<void> {
  const decls = Array.from({ length: nb }, (_, i) => `@group(0) @binding(${i}) var<storage, read_write> b${i}: array<f32>;`).join('\n');
  const touch = Array.from({ length: nb }, (_, i) => `b${i}[0] += 1.0;`).join(' ');
  const uni = o.uniforms ? `struct P { a: u32 }\n@group(0) @binding(${nb}) var<uniform> p: P;` : '';
  const use = o.uniforms ? 'b0[1] = f32(p.a);' : '';
  const kernels = Array.from({ length: o.pipelines }, (_, k) => ({
    key: `probe_${nb}_${o.uniforms}_${k}`,
    code: () => `${decls}\n${uni}\n@compute @workgroup_size(1) fn main() { ${touch} ${use} let k = ${k}u; }`,
  }));
  // `sets` distinct groups of buffers, used in turn (a decode step touches hundreds of buffers).
  const sets = Array.from({ length: o.sets ?? 1 }, () => Array.from({ length: nb }, () => gpu.ctx.buffer(o.bytes, 'probe')));
  const u = o.uniforms ? new ArrayBuffer(16) : null;
  let record = 0;
  let submit = 0;
  for (let rep = 0; rep < 30; rep++) {
    const t0 = performance.now();
    for (let i = 0; i < 100; i++) gpu.ctx.dispatch(kernels[i % o.pipelines]!, sets[i % sets.length]!, u, [1]);
    const t1 = performance.now();
    gpu.ctx.flush();
    const t2 = performance.now();
    if (rep >= 5) {
      record += t1 - t0;
      submit += t2 - t1;
    }
    await gpu.sync();
  }
  emit({ bench: 'launch_cost', label, bindings: nb, ...o, record_us: +((record * 1000) / 2500).toFixed(2), submit_us: +((submit * 1000) / 2500).toFixed(2) });
  for (const b of sets.flat()) gpu.ctx.release(b);
}
for (const nb of [2, 6, 11]) await launchCost('bindings', nb, { uniforms: false, pipelines: 1, bytes: 256 });
await launchCost('uniforms', 6, { uniforms: true, pipelines: 1, bytes: 256 });
await launchCost('4 pipelines', 6, { uniforms: true, pipelines: 4, bytes: 256 });
await launchCost('64 MB buffers', 6, { uniforms: true, pipelines: 4, bytes: 64 << 20 });
await launchCost('100 buffer sets', 6, { uniforms: true, pipelines: 4, bytes: 4096, sets: 100 });
