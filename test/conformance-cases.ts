/**
 * One table of kernel cases, run on every backend present. Each case builds its inputs from a seed,
 * runs the op on a device, and compares with a naive JavaScript reference written from the op's
 * definition (not from any backend's code).
 */
import type { DeviceName } from '../src/backend/registry.js';
import * as ops from '../src/ops/index.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { randomArray } from './helpers.js';
import { markLeaf } from '../src/autograd/tape.js';
import '../src/autograd/backward.js';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../src/tensor/half.js';

export interface KernelCase {
  name: string;
  /** Only for backends that keep bf16/f16 weights packed (WebGPU). */
  needsHalf?: boolean;
  /** Relative tolerance against max |reference|. */
  tol: number;
  run(device: DeviceName): Tensor[];
  reference(): ArrayLike<number>[];
}

const silu = (x: number) => x / (1 + Math.exp(-x));
const softplus = (x: number) => (x > 20 ? x : Math.log1p(Math.exp(x)));

function t(data: Float32Array, shape: number[], device: DeviceName): Tensor {
  return ops.tensor(data, shape, { device });
}

function matmulCase(M: number, K: number, N: number, transA: boolean, transB: boolean, batch = 1): KernelCase {
  const a = randomArray(batch * M * K, 1 + M + K);
  const b = randomArray(batch * K * N, 2 + K + N);
  const aShape = transA ? [batch, K, M] : [batch, M, K];
  const bShape = transB ? [batch, N, K] : [batch, K, N];
  return {
    name: `matmul ${batch}×(${M}×${K})·(${K}×${N}) transA=${transA} transB=${transB}`,
    tol: 1e-5,
    run: (d) => [ops.matmul(t(a, aShape, d), t(b, bShape, d), { transA, transB })],
    reference: () => {
      const out = new Float64Array(batch * M * N);
      for (let p = 0; p < batch; p++)
        for (let i = 0; i < M; i++)
          for (let j = 0; j < N; j++) {
            let s = 0;
            for (let k = 0; k < K; k++) {
              const av = transA ? a[p * K * M + k * M + i]! : a[p * M * K + i * K + k]!;
              const bv = transB ? b[p * N * K + j * K + k]! : b[p * K * N + k * N + j]!;
              s += av * bv;
            }
            out[p * M * N + i * N + j] = s;
          }
      return [out];
    },
  };
}

function convCase(B: number, L: number, D: number, K: number, withState: boolean): KernelCase {
  const x = randomArray(B * L * D, 11);
  const w = randomArray(D * K, 12);
  const bias = randomArray(D, 13);
  const st = randomArray(B * D * (K - 1), 14);
  return {
    name: `causalConv1d B=${B} L=${L} D=${D} K=${K} state=${withState}`,
    tol: 1e-5,
    run: (d) => {
      const r = ops.causalConv1d(t(x, [B, L, D], d), t(w, [D, K], d), t(bias, [D], d), {
        silu: true,
        state: withState ? t(st, [B, D, K - 1], d) : null,
      });
      return [r.out, r.state];
    },
    reference: () => {
      const out = new Float64Array(B * L * D);
      const ns = new Float64Array(B * D * (K - 1));
      // input at time τ, where τ < 0 reads the state (its last entry is τ = -1)
      const at = (b: number, tau: number, d: number) =>
        tau >= 0 ? x[(b * L + tau) * D + d]! : withState && tau >= -(K - 1) ? st[(b * D + d) * (K - 1) + (K - 1 + tau)]! : 0;
      for (let b = 0; b < B; b++)
        for (let d = 0; d < D; d++) {
          for (let i = 0; i < L; i++) {
            let s = bias[d]!;
            for (let k = 0; k < K; k++) s += w[d * K + k]! * at(b, i - (K - 1) + k, d);
            out[(b * L + i) * D + d] = silu(s);
          }
          for (let j = 0; j < K - 1; j++) ns[(b * D + d) * (K - 1) + j] = at(b, L - (K - 1) + j, d);
        }
      return [out, ns];
    },
  };
}

interface ScanData {
  u: Float32Array; delta: Float32Array; A: Float32Array; Bm: Float32Array; Cm: Float32Array;
  D: Float32Array; z: Float32Array; bias: Float32Array; h0: Float32Array;
}
function scanData(B: number, L: number, D: number, N: number, seed: number): ScanData {
  return {
    u: randomArray(B * L * D, seed),
    delta: randomArray(B * L * D, seed + 1, -3, 1),
    A: randomArray(D * N, seed + 2, -2, -0.05),
    Bm: randomArray(B * L * N, seed + 3),
    Cm: randomArray(B * L * N, seed + 4),
    D: randomArray(D, seed + 5),
    z: randomArray(B * L * D, seed + 6),
    bias: randomArray(D, seed + 7, -1, 0.5),
    h0: randomArray(B * D * N, seed + 8),
  };
}

/** The definition, in f64: Δ = softplus(δ + bias); h = exp(ΔA)h + ΔBu; y = (Ch + Du)·silu(z). */
export function scanReference(s: ScanData, B: number, L: number, D: number, N: number, withH0: boolean) {
  const out = new Float64Array(B * L * D);
  const last = new Float64Array(B * D * N);
  for (let b = 0; b < B; b++)
    for (let d = 0; d < D; d++) {
      const h = new Float64Array(N);
      if (withH0) for (let n = 0; n < N; n++) h[n] = s.h0[(b * D + d) * N + n]!;
      for (let i = 0; i < L; i++) {
        const k = (b * L + i) * D + d;
        const dt = softplus(s.delta[k]! + s.bias[d]!);
        let y = 0;
        for (let n = 0; n < N; n++) {
          h[n] = Math.exp(dt * s.A[d * N + n]!) * h[n]! + dt * s.Bm[(b * L + i) * N + n]! * s.u[k]!;
          y += s.Cm[(b * L + i) * N + n]! * h[n]!;
        }
        out[k] = (y + s.D[d]! * s.u[k]!) * silu(s.z[k]!);
      }
      for (let n = 0; n < N; n++) last[(b * D + d) * N + n] = h[n]!;
    }
  return [out, last];
}

export function scanCase(B: number, L: number, D: number, N: number, withH0: boolean, seed = 21): KernelCase {
  const s = scanData(B, L, D, N, seed);
  return {
    name: `selectiveScan B=${B} L=${L} D=${D} N=${N} initialState=${withH0}`,
    tol: 1e-5,
    run: (d) => {
      const r = ops.selectiveScan(t(s.u, [B, L, D], d), t(s.delta, [B, L, D], d), t(s.A, [D, N], d), t(s.Bm, [B, L, N], d), t(s.Cm, [B, L, N], d), {
        D: t(s.D, [D], d), z: t(s.z, [B, L, D], d), deltaBias: t(s.bias, [D], d), deltaSoftplus: true,
        initialState: withH0 ? t(s.h0, [B, D, N], d) : null,
      });
      return [r.out, r.lastState];
    },
    reference: () => scanReference(s, B, L, D, N, withH0),
  };
}

function stateUpdateCase(B: number, D: number, N: number): KernelCase {
  const s = scanData(B, 1, D, N, 31);
  return {
    name: `selectiveStateUpdate B=${B} D=${D} N=${N}`,
    tol: 1e-5,
    run: (d) => {
      const r = ops.selectiveStateUpdate(t(s.h0, [B, D, N], d), t(s.u, [B, D], d), t(s.delta, [B, D], d), t(s.A, [D, N], d), t(s.Bm, [B, N], d), t(s.Cm, [B, N], d), {
        D: t(s.D, [D], d), z: t(s.z, [B, D], d), dtBias: t(s.bias, [D], d), dtSoftplus: true,
      });
      return [r.out, r.state];
    },
    reference: () => scanReference(s, B, 1, D, N, true),
  };
}

function rmsNormCase(rows: number, H: number): KernelCase {
  const x = randomArray(rows * H, 41, -3, 3);
  const w = randomArray(H, 42);
  return {
    name: `rmsNorm ${rows}×${H}`,
    tol: 1e-5,
    run: (d) => [ops.rmsNorm(t(x, [rows, H], d), t(w, [H], d), 1e-5)],
    reference: () => {
      const out = new Float64Array(rows * H);
      for (let r = 0; r < rows; r++) {
        let ss = 0;
        for (let i = 0; i < H; i++) ss += x[r * H + i]! ** 2;
        const inv = 1 / Math.sqrt(ss / H + 1e-5);
        for (let i = 0; i < H; i++) out[r * H + i] = x[r * H + i]! * inv * w[i]!;
      }
      return [out];
    },
  };
}

/** linear(rmsNorm(x)) through the fused decode op (one vec4 kernel on WebGPU). */
function rmsNormLinearCase(rows: number, H: number, N: number, dtype: 'f32' | 'bf16' = 'f32'): KernelCase {
  const x = randomArray(rows * H, 43, -3, 3);
  const nw = randomArray(H, 44);
  const wf = randomArray(N * H, 45);
  const bits = dtype === 'bf16' ? f32ToBf16(wf) : null;
  const w = bits ? bf16ToF32(bits) : wf;
  return {
    name: `rmsNormLinear ${rows}×${H} → ${N} (${dtype} weight)`,
    needsHalf: dtype !== 'f32',
    tol: 1e-5,
    run: (d) => {
      const W = bits ? ops.halfTensor(bits, [N, H], 'bf16', { device: d }) : t(w, [N, H], d);
      return [ops.rmsNormLinear(t(x, [rows, H], d), t(nw, [H], d), 1e-5, W)];
    },
    reference: () => {
      const out = new Float64Array(rows * N);
      for (let r = 0; r < rows; r++) {
        let ss = 0;
        for (let i = 0; i < H; i++) ss += x[r * H + i]! ** 2;
        const inv = 1 / Math.sqrt(ss / H + 1e-5);
        for (let n = 0; n < N; n++) {
          let s = 0;
          for (let i = 0; i < H; i++) s += x[r * H + i]! * inv * nw[i]! * w[n * H + i]!;
          out[r * N + n] = s;
        }
      }
      return [out];
    },
  };
}

function unaryCase(name: 'silu' | 'softplus' | 'exp' | 'neg', f: (x: number) => number): KernelCase {
  const x = randomArray(1000, 51, -30, 30);
  return {
    name: `unary ${name}`,
    tol: 1e-6,
    run: (d) => [ops[name](t(name === 'exp' ? x.map((v) => v / 4) : x, [10, 100], d))],
    reference: () => [Array.from(name === 'exp' ? x.map((v) => v / 4) : x, f)],
  };
}

function binaryCase(aShape: number[], bShape: number[], outShape: number[]): KernelCase {
  const size = (s: number[]) => s.reduce((p, q) => p * q, 1);
  const a = randomArray(size(aShape), 61);
  const b = randomArray(size(bShape), 62);
  return {
    name: `add [${aShape}] + [${bShape}]`,
    tol: 1e-6,
    run: (d) => [ops.add(t(a, aShape, d), t(b, bShape, d))],
    reference: () => {
      const out = new Float64Array(size(outShape));
      const idx = (shape: number[], o: number[]) => {
        let k = 0;
        const off = o.length - shape.length;
        for (let i = 0; i < shape.length; i++) k = k * shape[i]! + (shape[i] === 1 ? 0 : o[i + off]!);
        return k;
      };
      for (let i = 0; i < out.length; i++) {
        const o: number[] = [];
        let r = i;
        for (let j = outShape.length - 1; j >= 0; j--) {
          o[j] = r % outShape[j]!;
          r = Math.floor(r / outShape[j]!);
        }
        out[i] = a[idx(aShape, o)]! + b[idx(bShape, o)]!;
      }
      return [out];
    },
  };
}

function softmaxCase(): KernelCase {
  const x = randomArray(3 * 37, 71, -10, 10);
  return {
    name: 'softmax 3×37',
    tol: 1e-6,
    run: (d) => [ops.softmax(t(x, [3, 37], d))],
    reference: () => {
      const out = new Float64Array(x.length);
      for (let r = 0; r < 3; r++) {
        const row = Array.from(x.subarray(r * 37, r * 37 + 37));
        const m = Math.max(...row);
        const e = row.map((v) => Math.exp(v - m));
        const s = e.reduce((p, q) => p + q, 0);
        e.forEach((v, i) => (out[r * 37 + i] = v / s));
      }
      return [out];
    },
  };
}

function argmaxTopKCase(): KernelCase {
  const x = randomArray(4 * 50, 81);
  x[10] = 5; // a clear max in row 0
  return {
    name: 'argmax and topK(5) 4×50',
    tol: 0,
    run: (d) => {
      const xt = t(x, [4, 50], d);
      const k = ops.topK(xt, 5);
      return [ops.argmax(xt), k.values, k.indices];
    },
    reference: () => {
      const am: number[] = [];
      const vals: number[] = [];
      const ids: number[] = [];
      for (let r = 0; r < 4; r++) {
        const row = Array.from(x.subarray(r * 50, r * 50 + 50)).map((v, i) => ({ v, i }));
        row.sort((p, q) => q.v - p.v || p.i - q.i);
        am.push(row[0]!.i);
        for (let j = 0; j < 5; j++) {
          vals.push(row[j]!.v);
          ids.push(row[j]!.i);
        }
      }
      return [am, vals, ids];
    },
  };
}

/** Long rows take the GPU's two-pass argmax; the maximum sits in a late chunk and ties an earlier value. */
function longArgmaxCase(): KernelCase {
  const n = 50280;
  const x = randomArray(3 * n, 83, -5, 5);
  x[n + 45001] = 9; // row 1: unique max in a late chunk
  x[2 * n + 30000] = 9; // row 2: a tie — the first index wins
  x[2 * n + 47000] = 9;
  return {
    name: 'argmax 3×50280 (two-pass on GPU)',
    tol: 0,
    run: (d) => [ops.argmax(t(x, [3, n], d))],
    reference: () => {
      const out: number[] = [];
      for (let r = 0; r < 3; r++) {
        let best = 0;
        for (let i = 1; i < n; i++) if (x[r * n + i]! > x[r * n + best]!) best = i;
        out.push(best);
      }
      return [out];
    },
  };
}

function embeddingCase(): KernelCase {
  const table = randomArray(20 * 8, 91);
  const ids = new Int32Array([3, 0, 19, 7, 7, 1]);
  return {
    name: 'embedding 6 ids of 20×8',
    tol: 0,
    run: (d) => [ops.embedding(ops.tensor(ids, [2, 3], { device: d, dtype: 'i32' }), t(table, [20, 8], d), true)],
    reference: () => [Array.from(ids).flatMap((i) => Array.from(table.subarray(i * 8, i * 8 + 8)))],
  };
}

function sliceConcatCase(): KernelCase {
  const x = randomArray(2 * 5 * 3, 101);
  return {
    name: 'slice axis 1 then concat back',
    tol: 0,
    run: (d) => {
      const xt = t(x, [2, 5, 3], d);
      const [p, q] = ops.split(xt, [2, 3], 1);
      return [p!, ops.concat([p!, q!], 1), ops.transpose(xt, [2, 0, 1])];
    },
    reference: () => {
      const p: number[] = [];
      for (let b = 0; b < 2; b++) for (let i = 0; i < 2; i++) for (let c = 0; c < 3; c++) p.push(x[(b * 5 + i) * 3 + c]!);
      const tr: number[] = [];
      for (let c = 0; c < 3; c++) for (let b = 0; b < 2; b++) for (let i = 0; i < 5; i++) tr.push(x[(b * 5 + i) * 3 + c]!);
      return [p, Array.from(x), tr];
    },
  };
}

/**
 * writeSlice into zeros, where the slice is one contiguous range of dst (leading dims of 1: a
 * buffer copy on WebGPU) and where it is not (a strided kernel), and into an i32 table.
 */
function writeSliceCase(): KernelCase {
  const src = randomArray(2 * 3, 102);
  const srcRows = randomArray(2 * 2 * 3, 103);
  const ids = Int32Array.from([7, -3, 123456, 1 << 30]);
  return {
    name: 'writeSlice: contiguous range, strided, i32',
    tol: 0,
    run: (d) => {
      const a = ops.zeros([1, 5, 3], { device: d });
      ops.writeSlice(a, t(src, [1, 2, 3], d), 1, 2);
      const b = ops.zeros([2, 4, 3], { device: d });
      ops.writeSlice(b, t(srcRows, [2, 2, 3], d), 1, 1);
      const c = ops.zeros([1, 6], { device: d, dtype: 'i32' });
      ops.writeSlice(c, ops.tensor(ids, [1, 4], { device: d, dtype: 'i32' }), 1, 1);
      return [a, b, c];
    },
    reference: () => {
      const a = new Array<number>(15).fill(0);
      for (let i = 0; i < 6; i++) a[6 + i] = src[i]!;
      const b = new Array<number>(24).fill(0);
      for (let r = 0; r < 2; r++) for (let i = 0; i < 6; i++) b[r * 12 + 3 + i] = srcRows[r * 6 + i]!;
      return [a, b, [0, ...ids, 0]];
    },
  };
}

/** flip along the first, a middle and the last axis of a (2, 5, 3) tensor. */
function flipCase(): KernelCase {
  const x = randomArray(2 * 5 * 3, 103);
  const at = (b: number, i: number, c: number) => x[(b * 5 + i) * 3 + c]!;
  const ref = (f: (b: number, i: number, c: number) => number) => {
    const out: number[] = [];
    for (let b = 0; b < 2; b++) for (let i = 0; i < 5; i++) for (let c = 0; c < 3; c++) out.push(f(b, i, c));
    return out;
  };
  return {
    name: 'flip (2, 5, 3) along axes 0, 1 and 2',
    tol: 0,
    run: (d) => [0, 1, 2].map((a) => ops.flip(t(x, [2, 5, 3], d), a)),
    reference: () => [ref((b, i, c) => at(1 - b, i, c)), ref((b, i, c) => at(b, 4 - i, c)), ref((b, i, c) => at(b, i, 2 - c))],
  };
}

/**
 * Rotary position embedding of (2, 3, 2, 8) with per-row positions (row 1 left-padded, pads at 1),
 * and its backward (the rotation by −θ), against HF's rotate_half form written out.
 */
function ropeCase(): KernelCase {
  const [B, L, H, hd] = [2, 3, 2, 8];
  const x = randomArray(B * L * H * hd, 131);
  const g = randomArray(B * L * H * hd, 132);
  const pos = [0, 1, 2, 1, 0, 1];
  const inv = Float32Array.from({ length: hd / 2 }, (_, i) => 1 / Math.pow(10000, (2 * i) / hd));
  const rotate = (v: Float32Array, sign: number) => {
    const out = new Float64Array(v.length);
    for (let r = 0; r < B * L; r++) for (let h = 0; h < H; h++) for (let j = 0; j < hd; j++) {
      const at = (r * H + h) * hd;
      const angle = sign * Math.fround(pos[r]! * inv[j % (hd / 2)]!);
      const half = j < hd / 2 ? -v[at + j + hd / 2]! : v[at + j - hd / 2]!; // rotate_half
      out[at + j] = v[at + j]! * Math.cos(angle) + half * Math.sin(angle);
    }
    return out;
  };
  return {
    name: `rope (${B}, ${L}, ${H}, ${hd}) and its backward`,
    tol: 1e-6,
    run: (d) => {
      const xt = t(x, [B, L, H, hd], d);
      const slot = { grad: null as Tensor | null };
      markLeaf(xt, slot);
      const y = ops.rope(xt, ops.tensor(Int32Array.from(pos), [B, L], { device: d, dtype: 'i32' }), t(inv, [hd / 2], d));
      ops.sum(ops.reshape(ops.mul(y, t(g, [B, L, H, hd], d)), [1, y.size])).backward();
      return [y, slot.grad!];
    },
    reference: () => [rotate(x, 1), rotate(g, -1)],
  };
}

/** Weights stored as bf16/f16 and unpacked inside the kernels: (x · Wᵀ) and embedding rows. */
function halfWeightCase(dtype: 'bf16' | 'f16', M: number, K: number, N: number): KernelCase {
  const x = randomArray(M * K, 111);
  const wf = randomArray(N * K, 112);
  const bits = dtype === 'bf16' ? f32ToBf16(wf) : f32ToF16(wf);
  const w = dtype === 'bf16' ? bf16ToF32(bits) : f16ToF32(bits); // the values the kernel must see
  const ids = new Int32Array([0, N - 1, 3]);
  return {
    name: `${dtype} weights: linear ${M}×${K}·(${N}×${K})ᵀ and embedding`,
    needsHalf: true,
    tol: 1e-5,
    run: (d) => {
      const W = ops.halfTensor(bits, [N, K], dtype, { device: d });
      return [ops.linear(t(x, [M, K], d), W), ops.embedding(ops.tensor(ids, [3], { device: d, dtype: 'i32' }), W, true), W];
    },
    reference: () => {
      const y = new Float64Array(M * N);
      for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += x[m * K + k]! * w[n * K + k]!;
        y[m * N + n] = s;
      }
      return [y, Array.from(ids).flatMap((i) => Array.from(w.subarray(i * K, (i + 1) * K))), w];
    },
  };
}

/** Per-row cross-entropy (with an ignored row) and its gradient, through the op's backward rule. */
function crossEntropyCase(): KernelCase {
  const R = 5;
  const V = 300;
  const x = randomArray(R * V, 121, -4, 4);
  const labels = new Int32Array([3, 299, -100, 0, 150]);
  return {
    name: `crossEntropy ${R}×${V} with an ignored row, and its gradient`,
    tol: 1e-5,
    run: (d) => {
      const logits = t(x, [R, V], d);
      const lab = ops.tensor(labels, [R], { device: d, dtype: 'i32' });
      const slot = { grad: null as Tensor | null };
      markLeaf(logits, slot);
      const loss = ops.crossEntropy(logits, lab, 4);
      loss.backward();
      return [loss, slot.grad!];
    },
    reference: () => {
      let total = 0;
      const grad = new Float64Array(R * V);
      for (let r = 0; r < R; r++) {
        const lab = labels[r]!;
        if (lab === -100) continue;
        const row = Array.from(x.subarray(r * V, (r + 1) * V));
        const m = Math.max(...row);
        const z = row.reduce((s, v) => s + Math.exp(v - m), 0);
        total += m + Math.log(z) - row[lab]!;
        row.forEach((v, i) => (grad[r * V + i] = (Math.exp(v - m) / z - (i === lab ? 1 : 0)) / 4));
      }
      return [[total / 4], grad];
    },
  };
}

export function kernelCases(): KernelCase[] {
  return [
    matmulCase(1, 64, 96, false, true),
    matmulCase(7, 33, 13, false, true),
    matmulCase(3, 1540, 37, false, true), // vec4 gemv: 64 lanes, K/4 not a multiple of them
    matmulCase(4, 36, 70, false, true), // vec4 gemv, 16 lanes
    matmulCase(2, 35, 9, false, true), // gemv4 with gathered vec4s (K % 4 != 0)
    matmulCase(37, 100, 50, false, true), // blocked gemv: 10 blocks of 4 rows, the last partial
    matmulCase(64, 35, 21, false, true), // blocked, gathered vec4s
    matmulCase(16, 64, 64, false, false),
    matmulCase(1024, 24, 1040, false, true), // enough tiles for the GPU's 64×64 tiling
    matmulCase(2100, 20, 2060, false, true), // and for its 128×128 tiling
    matmulCase(2050, 17, 2049, true, false),
    matmulCase(5, 9, 6, true, false, 3),
    matmulCase(4, 8, 12, true, true, 2),
    convCase(2, 9, 5, 4, false),
    convCase(1, 1, 7, 4, true),
    convCase(2, 2, 3, 4, true),
    scanCase(2, 37, 6, 16, false),
    scanCase(1, 5, 3, 1, true),
    scanCase(3, 70, 5, 64, true),
    stateUpdateCase(2, 9, 16),
    rmsNormCase(5, 64),
    rmsNormLinearCase(1, 768, 300),
    rmsNormLinearCase(4, 36, 13),
    rmsNormLinearCase(2, 30, 7), // H % 4 != 0: vec4s gathered from scalar loads
    rmsNormLinearCase(3, 64, 33, 'bf16'),
    rmsNormLinearCase(1, 37, 9, 'bf16'), // gathered, from packed halves
    rmsNormLinearCase(9, 64, 33), // blocked rows (a decode batch), the last block partial
    rmsNormLinearCase(14, 30, 7, 'bf16'), // blocked, gathered from packed halves
    rmsNormLinearCase(40, 32, 16400), // a large batch's LM head: rmsNorm, then the tiled matmul (wide)
    unaryCase('silu', silu),
    unaryCase('softplus', softplus),
    unaryCase('exp', Math.exp),
    unaryCase('neg', (v) => -v),
    binaryCase([4, 6], [4, 6], [4, 6]),
    binaryCase([2, 3, 4], [4], [2, 3, 4]),
    binaryCase([2, 1, 4], [3, 1], [2, 3, 4]),
    softmaxCase(),
    argmaxTopKCase(),
    longArgmaxCase(),
    embeddingCase(),
    sliceConcatCase(),
    writeSliceCase(),
    flipCase(),
    ropeCase(),
    crossEntropyCase(),
    halfWeightCase('bf16', 1, 33, 17), // gemv path, odd element count
    halfWeightCase('f16', 3, 64, 40),
    halfWeightCase('f16', 11, 64, 40), // blocked gemv of packed halves
    halfWeightCase('bf16', 2, 1536, 19), // vec4 gemv of packed halves, 64 lanes
    halfWeightCase('bf16', 300, 48, 200), // tiled path
    halfWeightCase('f16', 1100, 16, 1030),
  ];
}
