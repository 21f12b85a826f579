/**
 * WebGPU benchmarks, one JSON line per measurement:
 * - the fused selective scan (forward, f32; delta softplus, D, z gate, delta bias; variable B and C)
 *   at the shapes of the mamba_ssm CUDA anchors (../shared/reference/anchors.md);
 * - a mamba-130m-sized model (random weights, d_model 768, 24 layers, vocab 50280), batch 1:
 *   prefill tokens/s at L = 2048, greedy decoding tokens/s, and GPU bytes held while decoding
 *   1k and 10k tokens;
 * - Mamba-2 (docs/mamba2.md), each run as its own script, its lines passed through:
 *   ssd     the fused SSD forward at a mamba2-130m-like shape against the composed ops and Mamba-1's
 *           scan (ssd.ts; scripts/ssd_triton_bench.py times mamba_ssm's Triton kernel on the same
 *           problem);
 *   mamba2  prefill and decode tokens/s of a mamba2-130m-shaped model beside mamba-130m's, by
 *           throughput.ts's protocol (prompt --prefill tokens, 128 generated, batches --mamba2-batch).
 *   npm run bench:gpu [-- --only scan,model,ssd,mamba2 --decode 256 --repeats 1 --long 10000 --warmup 256
 *                        --mamba2-batch 1,64]
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ArgumentError } from '../src/errors.js';
import { initWebGPU } from '../src/backend/registry.js';
import type { WebGpuBackend } from '../src/backend/webgpu/index.js';
import { MambaConfig } from '../src/models/mamba/config.js';
import { initMambaWeights } from '../src/models/mamba/init.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { generateSteps } from '../src/generation/generate.js';
import { randomUniform, RandomSource, selectiveScan } from '../src/ops/index.js';
import { liveTensorCount } from '../src/tensor/memory.js';

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    decode: { type: 'string', default: '256' },
    long: { type: 'string', default: '10000' },
    prefill: { type: 'string', default: '2048' },
    repeats: { type: 'string', default: '1' },
    warmup: { type: 'string', default: '256' },
    'mamba2-batch': { type: 'string', default: '1' },
  },
});
const PARTS = ['scan', 'model', 'ssd', 'mamba2'] as const;
type Part = (typeof PARTS)[number];
const parts = new Set<Part>(
  (values.only ?? PARTS.join(',')).split(',').map((p) => {
    const name = p.trim();
    if (!(PARTS as readonly string[]).includes(name)) throw new ArgumentError(`--only: expected some of ${PARTS.join(', ')} separated by commas, got ${JSON.stringify(values.only)}`);
    return name as Part;
  }),
);
const gpu = (await initWebGPU()) as WebGpuBackend;
const info = { device: 'webgpu', adapter: gpu.adapterInfo };
const emit = (o: Record<string, unknown>) => console.log(JSON.stringify({ ...o, ...info }));

async function benchScan(B: number, D: number, L: number, N: number, anchorMs: number): Promise<void> {
  const rng = new RandomSource(1);
  const o = { device: 'webgpu' as const };
  const u = randomUniform([B, L, D], -1, 1, rng, o);
  const delta = randomUniform([B, L, D], -3, 0, rng, o);
  const A = randomUniform([D, N], -2, -0.1, rng, o);
  const Bm = randomUniform([B, L, N], -1, 1, rng, o);
  const Cm = randomUniform([B, L, N], -1, 1, rng, o);
  const Dv = randomUniform([D], -1, 1, rng, o);
  const z = randomUniform([B, L, D], -1, 1, rng, o);
  const bias = randomUniform([D], -1, 0, rng, o);
  const run = () => {
    const r = selectiveScan(u, delta, A, Bm, Cm, { D: Dv, z, deltaBias: bias, deltaSoftplus: true });
    r.out.dispose();
    r.lastState.dispose();
  };
  run();
  await gpu.sync();
  // Enough repetitions for ~0.3 s, all recorded before one wait.
  let reps = 1;
  let ms = 0;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) run();
    await gpu.sync();
    ms = (performance.now() - t0) / reps;
    if (ms * reps > 300 || reps >= 1000) break;
    reps = Math.min(1000, Math.ceil((reps * 400) / Math.max(1, ms * reps)));
  }
  emit({ bench: 'scan_fwd', B, D, L, N, dtype: 'f32', ms: +ms.toFixed(4), reps, cuda_anchor_ms: anchorMs, ratio_vs_cuda: +(ms / anchorMs).toFixed(3) });
  for (const t of [u, delta, A, Bm, Cm, Dv, z, bias]) t.dispose();
}

async function benchModel(): Promise<void> {
  // BENCH_HIDDEN / BENCH_VOCAB shrink the model (same launches, little GPU work): the decode rate
  // then shows what the host alone allows.
  const hidden = Number(process.env['BENCH_HIDDEN'] ?? 768);
  const vocab = Number(process.env['BENCH_VOCAB'] ?? 50280);
  const config = MambaConfig.create({ hidden_size: hidden, num_hidden_layers: 24, vocab_size: vocab, use_bias: false });
  const model = new MambaForCausalLM(config);
  initMambaWeights(model, 0, 'webgpu');
  const common = { model: hidden === 768 && vocab === 50280 ? 'mamba-130m-shape' : `mamba-h${hidden}-v${vocab}`, params: model.parameterCount(), batch: 1 };
  const L = Number(values.prefill);
  const prompt = [Array.from({ length: L }, (_, i) => (i * 7919) % vocab)];
  // Warm-up: pipelines compile on first use (also those of the decode loop's prompt and steps).
  {
    const c = model.createCache(1);
    model.nextLogits([prompt[0]!.slice(0, 64)], c).dispose();
    model.nextLogits([[1]], c).dispose();
    c.dispose();
    for await (const _ of generateSteps(model, [prompt[0]!.slice(0, 16)], { maxNewTokens: Number(values.warmup), eosTokenId: null }));
    await gpu.sync();
  }
  for (let rep = 0; rep < 5; rep++) {
    const cache = model.createCache(1);
    const t0 = performance.now();
    const logits = model.nextLogits(prompt, cache);
    await logits.data();
    const s = (performance.now() - t0) / 1000;
    logits.dispose();
    cache.dispose();
    emit({ bench: 'prefill', ...common, rep, tokens: L, seconds: +s.toFixed(4), tokens_per_s: +(L / s).toFixed(1), hf_pytorch_anchor_tokens_per_s: 776 });
  }
  // Greedy decoding through the library's generate loop (argmax on the GPU, ids read back
  // a few steps behind); memory is sampled at the given token counts.
  const decode = async (steps: number, label: string, memoryAt: number[] = []) => {
    let i = 0;
    let first100 = 0;
    const stats0 = { ...gpu.ctx.stats };
    const t0 = performance.now();
    for await (const _ of generateSteps(model, [prompt[0]!.slice(0, 16)], { maxNewTokens: steps, eosTokenId: null })) {
      if (i === 99) first100 = performance.now() - t0;
      if (memoryAt.includes(++i)) {
        emit({ bench: 'decode_memory', ...common, tokens: i, gpu_bytes_live: gpu.memoryBytes(), gpu_bytes_pool: gpu.ctx.pool.heldBytes() + gpu.ctx.pool.pooledBytes(), live_tensors: liveTensorCount() });
      }
    }
    const s = (performance.now() - t0) / 1000;
    const st = gpu.ctx.stats;
    const host = { submits: st.submits - stats0.submits, submit_ms: +(st.submitMs - stats0.submitMs).toFixed(1), encoders: st.encoders - stats0.encoders, encoder_ms: +(st.encoderMs - stats0.encoderMs).toFixed(1) };
    emit({ bench: label, ...common, tokens: steps, seconds: +s.toFixed(3), tokens_per_s: +(steps / s).toFixed(1), first_100_ms: +first100.toFixed(1), hf_pytorch_anchor_tokens_per_s: 62, ...host });
  };
  for (let r = 0; r < Number(values.repeats); r++) await decode(Number(values.decode), 'decode');
  const long = Number(values.long);
  await decode(long, 'decode_long', [1000, long]);
  model.dispose();
}

/**
 * Runs another benchmark of dist/bench as a child process, its JSON lines going to this one's
 * stdout; a failure becomes a line with "error" and the run goes on.
 */
function runBenchScript(script: string, args: string[] = []): void {
  const path = fileURLToPath(new URL(script, import.meta.url));
  const r = spawnSync(process.execPath, [path, ...args], { stdio: 'inherit' });
  if (r.status !== 0) emit({ bench: script, args, error: `exited with ${r.status ?? r.signal ?? r.error?.message}` });
}

if (parts.has('scan')) {
  await benchScan(1, 1536, 2048, 16, 0.128);
  await benchScan(1, 1536, 8192, 16, 0.5);
  await benchScan(8, 1536, 2048, 16, 0.88);
  await benchScan(1, 5120, 4096, 16, 0.764);
  await benchScan(16, 2048, 4096, 16, 4.74);
}
if (parts.has('model')) await benchModel();
if (parts.has('ssd')) runBenchScript('./ssd.js');
if (parts.has('mamba2')) {
  runBenchScript('./throughput.js', ['--device', 'webgpu', '--size', '130m', '--models', 'mamba2,mamba', '--batch', values['mamba2-batch'], '--prompt', values.prefill, '--gen', '128']);
}
