/**
 * WebGPU attention benchmarks, one JSON line per measurement (Jamba-v0.1's attention: 32 query
 * heads, 8 KV heads, head_dim 128, batch 1):
 * - prefill: causal attention over L tokens, the fused flash kernel vs the matmul/softmax
 *   composition (which materialises the (heads, L, L) scores; skipped where that exceeds the
 *   adapter's buffer limit);
 * - decode: one query against a cache of C keys, the fused split-K kernel vs the composition;
 *   and appending one token to the cache in place (writeSlice) vs the old concat of the whole cache.
 *   npm run bench:gpu-attention [-- --prefill 2048,8192 --cache 1024,32768 --heads 32 --kv 8 --hd 128]
 * MAMBA_TS_FLASH_TILES=BR,BC,LANES forces the flash kernel's tile shape (kernels/attention.ts).
 */
import { parseArgs } from 'node:util';
import { initWebGPU } from '../src/backend/registry.js';
import type { WebGpuBackend } from '../src/backend/webgpu/index.js';
import { attentionComposed, concat, randomUniform, RandomSource, scaledDotProductAttention, writeSlice } from '../src/ops/index.js';
import { tidy } from '../src/tensor/memory.js';
import type { Tensor } from '../src/tensor/tensor.js';

const { values } = parseArgs({
  options: {
    prefill: { type: 'string', default: '2048,8192' },
    cache: { type: 'string', default: '1024,32768' },
    heads: { type: 'string', default: '32' },
    kv: { type: 'string', default: '8' },
    hd: { type: 'string', default: '128' },
  },
});
const H = Number(values.heads);
const Hkv = Number(values.kv);
const hd = Number(values.hd);
const gpu = (await initWebGPU()) as WebGpuBackend;
const info = { device: 'webgpu', adapter: gpu.adapterInfo, B: 1, heads: H, kv_heads: Hkv, head_dim: hd };
const emit = (o: Record<string, unknown>) => console.log(JSON.stringify({ ...o, ...info }));
const list = (s: string | undefined) => (s ?? '').split(',').filter(Boolean).map(Number);

/** Mean GPU-inclusive time of `run` in ms: repetitions recorded back to back, one wait, ~0.3 s. */
async function time(run: () => void): Promise<{ ms: number; reps: number }> {
  run();
  await gpu.sync();
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) run();
    await gpu.sync();
    const ms = (performance.now() - t0) / reps;
    if (ms * reps > 300 || reps >= 2000) return { ms, reps };
    reps = Math.min(2000, Math.ceil((reps * 400) / Math.max(0.01, ms * reps)));
  }
}

/** Times `f` (its result, if any, disposed each time), or reports why it could not run. */
async function measure(f: () => Tensor | void): Promise<{ ms: number; reps: number } | { error: string }> {
  try {
    return await time(() => tidy(() => f())?.dispose());
  } catch (e) {
    return { error: (e as Error).message };
  }
}

const rng = new RandomSource(1);
const o = { device: 'webgpu' as const };

for (const L of list(values.prefill)) {
  const q = randomUniform([1, L, H, hd], -1, 1, rng, o);
  const k = randomUniform([1, Hkv, L, hd], -1, 1, rng, o);
  const v = randomUniform([1, Hkv, L, hd], -1, 1, rng, o);
  // Causal: half the L² · H score matrix is computed; 4·hd flops per (query, key, head).
  const gflop = (4 * hd * H * L * (L + 1)) / 2 / 1e9;
  for (const [impl, f] of [['fused', scaledDotProductAttention], ['composed', attentionComposed]] as const) {
    const r = await measure(() => f(q, k, v));
    emit('error' in r ? { bench: 'attention_prefill', impl, L, error: r.error } : { bench: 'attention_prefill', impl, L, ms: +r.ms.toFixed(3), tflops: +(gflop / r.ms).toFixed(3), reps: r.reps });
  }
  for (const t of [q, k, v]) t.dispose();
}

for (const C of list(values.cache)) {
  const cap = C + 64; // a cache with room to spare, as KvCache keeps it
  const q = randomUniform([1, 1, H, hd], -1, 1, rng, o);
  const k = randomUniform([1, Hkv, cap, hd], -1, 1, rng, o);
  const v = randomUniform([1, Hkv, cap, hd], -1, 1, rng, o);
  const kExact = randomUniform([1, Hkv, C, hd], -1, 1, rng, o);
  const vExact = randomUniform([1, Hkv, C, hd], -1, 1, rng, o);
  const bytes = 2 * Hkv * C * hd * 4;
  const fused = await measure(() => scaledDotProductAttention(q, k, v, { keyLength: C }));
  const composed = await measure(() => attentionComposed(q, kExact, vExact));
  for (const [impl, r] of [['fused', fused], ['composed', composed]] as const) {
    emit('error' in r ? { bench: 'attention_decode', impl, cache: C, error: r.error } : { bench: 'attention_decode', impl, cache: C, us: +(r.ms * 1000).toFixed(1), kv_gb_per_s: +(bytes / r.ms / 1e6).toFixed(1), reps: r.reps });
  }
  // Appending one token's keys: in place vs the concat the old cache did each step.
  const one = randomUniform([1, Hkv, 1, hd], -1, 1, rng, o);
  const inPlace = await measure(() => writeSlice(k, one, 2, C));
  const grown = await measure(() => concat([kExact, one], 2));
  for (const [impl, r] of [['write_in_place', inPlace], ['concat_copy', grown]] as const) {
    emit('error' in r ? { bench: 'kv_append', impl, cache: C, error: r.error } : { bench: 'kv_append', impl, cache: C, us: +(r.ms * 1000).toFixed(1), reps: r.reps });
  }
  for (const t of [q, k, v, kExact, vExact, one]) t.dispose();
}
