/**
 * CPU kernel microbenchmarks: the TypeScript reference against the WebAssembly kernels (1 and more
 * threads) on mamba-130m's shapes, measured interleaved round by round so that a shared machine
 * slows all of them alike. One JSON line per (kernel, shape, weights, implementation): the median
 * time, GFLOP/s (GEMM) or GB/s of weights read (gemv), and the speed-up over the TypeScript kernel.
 *   node dist/bench/cpu-kernels.js [--rounds 5] [--threads 1,2] [--only gemm|gemv]
 */
import { parseArgs } from 'node:util';
import { CpuBackend } from '../src/backend/cpu/index.js';
import type { HalfDType } from '../src/tensor/dtype.js';
import { f32ToBf16, f32ToF16 } from '../src/tensor/half.js';
import { StorageRef, Tensor } from '../src/tensor/tensor.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    threads: { type: 'string', default: '1,2' },
    only: { type: 'string' },
  },
});
const rounds = Number(values.rounds);
const threadCounts = values.threads.split(',').map(Number);

const ts = new CpuBackend({ kernels: 'ts' });
const wasm = new CpuBackend({ kernels: 'wasm' });
const info = wasm.kernelInfo();
if (info.kernels !== 'wasm') throw new Error(`the WebAssembly kernels are off: ${info.reason}`);

function random(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
  return a;
}
const f32 = (b: CpuBackend, data: Float32Array, shape: number[]) => new Tensor(shape, 'f32', new StorageRef(b, b.upload(data)));
const half = (b: CpuBackend, bits: Uint16Array, shape: number[], dtype: HalfDType) => new Tensor(shape, dtype, new StorageRef(b, b.uploadHalf!(bits)));

/** Seconds per call: repeated until about 0.25 s have passed (at least twice). */
function time(fn: () => void): number {
  fn();
  let reps = 0;
  const t0 = performance.now();
  let t = t0;
  while (reps < 2 || t - t0 < 250) {
    fn();
    reps++;
    t = performance.now();
  }
  return (t - t0) / 1000 / reps;
}

interface Shape {
  kernel: 'gemm' | 'gemv';
  what: string;
  M: number;
  K: number;
  N: number;
}
const shapes: Shape[] = [
  { kernel: 'gemm', what: 'in_proj prefill', M: 512, K: 768, N: 3072 },
  { kernel: 'gemm', what: 'out_proj prefill', M: 512, K: 1536, N: 768 },
  { kernel: 'gemv', what: 'in_proj decode', M: 1, K: 768, N: 3072 },
  { kernel: 'gemv', what: 'out_proj decode', M: 1, K: 1536, N: 768 },
  { kernel: 'gemv', what: 'LM head decode', M: 1, K: 768, N: 50280 },
].filter((s) => !values.only || s.kernel === values.only) as Shape[];

for (const s of shapes) {
  const x = random(s.M * s.K, 1);
  const w = random(s.N * s.K, 2);
  const weightsList: ('f32' | HalfDType)[] = s.kernel === 'gemv' ? ['f32', 'bf16', 'f16'] : ['f32', 'bf16'];
  const runs: { impl: string; weights: string; threads: number; fn: () => void }[] = [];
  {
    const X = f32(ts, x, [s.M, s.K]);
    const W = f32(ts, w, [s.N, s.K]);
    runs.push({ impl: 'ts', weights: 'f32', threads: 1, fn: () => ts.matmul(X, W, [s.M, s.N], { transA: false, transB: true }).dispose() });
  }
  for (const weights of weightsList) {
    const X = f32(wasm, x, [s.M, s.K]);
    const W = weights === 'f32' ? f32(wasm, w, [s.N, s.K]) : half(wasm, weights === 'bf16' ? f32ToBf16(w) : f32ToF16(w), [s.N, s.K], weights);
    for (const threads of threadCounts) {
      runs.push({
        impl: 'wasm',
        weights,
        threads,
        fn: () => {
          wasm.memory.runtime!.setThreads(threads);
          wasm.matmul(X, W, [s.M, s.N], { transA: false, transB: true }).dispose();
        },
      });
    }
  }
  const samples = runs.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) runs.forEach((run, i) => samples[i]!.push(time(run.fn)));
  const median = (a: number[]) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)]!;
  const tsSeconds = median(samples[0]!);
  runs.forEach((run, i) => {
    const sec = median(samples[i]!);
    const rate =
      s.kernel === 'gemm'
        ? { gflops: +((2 * s.M * s.N * s.K) / sec / 1e9).toFixed(2) }
        : { weight_gb_per_s: +((s.N * s.K * (run.weights === 'f32' ? 4 : 2)) / sec / 1e9).toFixed(2) };
    console.log(
      JSON.stringify({
        bench: `cpu_${s.kernel}`, shape: s.what, M: s.M, K: s.K, N: s.N, weights: run.weights, impl: run.impl,
        variant: run.impl === 'wasm' ? info.variant : undefined, threads: run.threads, ms: +(sec * 1000).toFixed(3), ...rate,
        speedup_vs_ts: +(tsSeconds / sec).toFixed(2), rounds,
      }),
    );
  });
}
