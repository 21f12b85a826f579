/**
 * The CPU backend. Tensors live in one WebAssembly memory (memory.ts) where the WebAssembly SIMD
 * kernels run on a pool of threads (wasm/); the TypeScript kernels over typed arrays are the
 * reference every other kernel is tested against, and the fallback wherever the WebAssembly ones
 * do not run (MAMBA_TS_CPU_KERNELS=ts, no SIMD in the engine, a tensor outside the 4 GiB heap).
 *
 * A rule for every method: allocate the outputs before taking views of the inputs. An unshared
 * memory (browsers without cross-origin isolation) detaches its buffer when it grows, so a view
 * taken before an allocation may be dead after it.
 */
import type {
  AdamWScalars,
  FusedAdamW,
  FusedAdamWLayout,
  AttentionInputs,
  Backend,
  MambaBlockStepInputs,
  Mamba2BlockStepInputs,
  BinaryOp,
  ConvOptions,
  MatmulOptions,
  ScanInputs,
  ScanGradients,
  SampleTokensPerRow,
  SampleTokensScalars,
  ScanOptions,
  SsdForwardInputs,
  SsdForwardResult,
  SsdGradients,
  SsdSaved,
  StateUpdateInputs,
  Storage,
  UnaryOp,
} from '../backend.js';
import { UnsupportedError } from '../../errors.js';
import { isHalf, type DataArray, type DType, type HalfDType } from '../../tensor/dtype.js';
import { widenHalfInto } from '../../tensor/half.js';
import { sizeOf, type Shape } from '../../tensor/shape.js';
import { StorageRef, Tensor } from '../../tensor/tensor.js';
import { binaryKernel, unaryKernel } from './elementwise.js';
import { causalConv1dKernel, embeddingKernel, rmsNormBackwardKernel, rmsNormKernel } from './layers.js';
import { argmaxRows, maxRows, softmaxRows, sumRows, topKRows } from './reduce.js';
import { sampleTokensRows } from './sample-tokens.js';
import { concatKernel, flipKernel, scatterAddRowsKernel, sliceKernel, transposeKernel } from './shape-kernels.js';
import { selectiveScanSequential, type ScanArrays, type ScanDims } from './scan-reference.js';
import { selectiveScanChunked } from './scan-chunked.js';
import { selectiveStateUpdateKernel } from './state-update.js';
import { selectiveScanBackward } from './scan-backward.js';
import { causalConv1dBackwardKernel } from './conv-backward.js';
import { attentionKernel } from './attention.js';
import { ropeKernel } from './rope.js';
import { depthwiseConv2dBackwardKernel, depthwiseConv2dKernel, type Conv2dDims } from './depthwise-conv2d.js';
import { crossEntropyRows, crossEntropyRowsBackward, embeddingBackwardKernel } from './loss.js';
import { CpuMemory, type CpuMemoryOptions } from './memory.js';
import { CpuStorage, type StorageKind } from './storage.js';
import { cpuMatmul } from './matmul-dispatch.js';
import { adamwKernel, scaleInPlace, sumOfSquares } from './optim.js';
import { CpuFusedAdamW } from './fused-adamw.js';
import { scanBackwardFits, scanBackwardOnPool } from './wasm/scan-backward.js';
import { adamwOnPool } from './wasm/optim.js';
import { wasmAttention, wasmConv1d, wasmConv1dBackward, wasmScan, wasmSsdScan, wasmSsdScanBackward, type ScanStorages } from './sequence-dispatch.js';
import { cpuMambaBlockStep } from './mamba-step.js';
import { cpuMamba2BlockStep } from './mamba2-step.js';
import type { CpuKernelInfo } from './wasm/runtime.js';

export interface CpuBackendOptions extends CpuMemoryOptions {
  /** 'sequential' is fastest on one thread; 'chunked' is the parallel algorithm, for testing. */
  scan?: 'sequential' | 'chunked';
  scanChunk?: number;
}

function kindOf(dtype: DType): StorageKind {
  return isHalf(dtype) ? 'half' : dtype;
}

/** A tensor's CPU storage (null for null): what the kernel dispatchers take. */
function storageOf(t: Tensor | null): CpuStorage | null {
  return t ? (t.storage as CpuStorage) : null;
}

export class CpuBackend implements Backend {
  readonly name = 'cpu' as const;
  readonly memory: CpuMemory;
  constructor(readonly options: CpuBackendOptions = {}) {
    this.memory = new CpuMemory(options);
  }

  // ---- memory
  alloc(dtype: DType, size: number): Storage {
    return this.memory.alloc(kindOf(dtype), size);
  }
  upload(data: DataArray): Storage {
    return this.memory.upload(data);
  }
  /**
   * bf16/f16 weights stay packed where the WebAssembly kernels run (they widen them in registers);
   * with the TypeScript kernels only, weights are float32 (no uploadHalf).
   */
  get uploadHalf(): ((bits: Uint16Array) => Storage) | undefined {
    return this.memory.runtime ? (bits) => this.memory.uploadHalf(bits) : undefined;
  }
  read(s: Storage, dtype: DType, size: number): Promise<DataArray> {
    return Promise.resolve(this.readSync(s, dtype, size));
  }
  readSync(s: Storage, dtype: DType, size: number): DataArray {
    return this.memory.read(s as CpuStorage, dtype, size);
  }
  free(s: Storage): void {
    this.memory.free(s as CpuStorage);
  }
  memoryBytes(): number {
    return this.memory.bytes;
  }
  /** Which kernels run, on how many threads. */
  kernelInfo(): CpuKernelInfo {
    return this.memory.info();
  }

  private arr(t: Tensor): Float32Array {
    return (t.storage as CpuStorage).data as Float32Array;
  }
  private any(t: Tensor): DataArray {
    return (t.storage as CpuStorage).data;
  }
  /**
   * An output tensor. Not zero-filled unless `zero`: kernels write every element of their outputs
   * (a reused heap block holds old bytes); only accumulating kernels ask for zeros.
   */
  private make(shape: Shape, dtype: DType = 'f32', zero = false): { t: Tensor; d: DataArray } {
    const s = this.memory.alloc(kindOf(dtype), sizeOf(shape), zero);
    return { t: new Tensor([...shape], dtype, new StorageRef(this, s)), d: s.data };
  }
  /** Refuses a packed 16-bit weight where only matmul and embedding read them. */
  private noHalf(op: string, x: Tensor): void {
    if (isHalf(x.dtype)) throw new UnsupportedError(`cpu: ${x.dtype} weights cannot be ${op}; cast them to float32 first`);
  }
  /** A tensor over an array a kernel already filled. */
  private wrap(data: Float32Array, shape: Shape): Tensor {
    return new Tensor([...shape], 'f32', new StorageRef(this, this.upload(data)));
  }
  private scanArrays(i: ScanInputs): ScanArrays {
    const f = (t: Tensor | null) => (t ? this.arr(t) : null);
    return {
      u: this.arr(i.u), delta: this.arr(i.delta), A: this.arr(i.A), B: this.arr(i.B), C: this.arr(i.C),
      D: f(i.D), z: f(i.z), deltaBias: f(i.deltaBias), initialState: f(i.initialState),
    };
  }
  private scanStorages(i: ScanInputs, out: Tensor, lastState: Tensor): ScanStorages {
    return {
      u: storageOf(i.u)!, delta: storageOf(i.delta)!, A: storageOf(i.A)!, B: storageOf(i.B)!, C: storageOf(i.C)!, D: storageOf(i.D), z: storageOf(i.z), deltaBias: storageOf(i.deltaBias),
      initialState: storageOf(i.initialState), out: storageOf(out)!, lastState: storageOf(lastState)!,
    };
  }
  private makeF(shape: Shape, zero = false): { t: Tensor; d: Float32Array } {
    const { t, d } = this.make(shape, 'f32', zero);
    return { t, d: d as Float32Array };
  }

  // ---- elementwise
  unary(op: UnaryOp, x: Tensor): Tensor {
    const { t, d } = this.makeF(x.shape);
    unaryKernel(op, this.arr(x), d);
    return t;
  }
  binary(op: BinaryOp, a: Tensor, b: Tensor, outShape: Shape): Tensor {
    const { t, d } = this.make(outShape, a.dtype);
    binaryKernel(op, this.any(a), a.shape, this.any(b), b.shape, d, outShape);
    return t;
  }
  affine(x: Tensor, a: number, b: number): Tensor {
    const { t, d } = this.makeF(x.shape);
    const s = this.arr(x);
    for (let i = 0; i < s.length; i++) d[i] = a * s[i]! + b;
    return t;
  }
  cast(x: Tensor, dtype: DType): Tensor {
    if (isHalf(dtype)) throw new UnsupportedError(`cpu: no cast to ${dtype}; 16-bit weights come from halfTensor()`);
    if (isHalf(x.dtype) && dtype !== 'f32') throw new UnsupportedError(`cpu: no cast from ${x.dtype} to ${dtype}`);
    const { t, d } = this.make(x.shape, dtype);
    if (isHalf(x.dtype)) {
      widenHalfInto(x.dtype, (x.storage as CpuStorage).bits, 0, x.size, d as Float32Array, 0);
      return t;
    }
    const s = this.any(x);
    if (dtype === 'i32') for (let i = 0; i < s.length; i++) d[i] = Math.trunc(s[i]!);
    else d.set(s);
    return t;
  }

  // ---- linear algebra
  matmul(a: Tensor, b: Tensor, outShape: Shape, o: MatmulOptions): Tensor {
    const r = outShape.length;
    const out = this.memory.alloc('f32', sizeOf(outShape), false); // every element is written
    const t = new Tensor([...outShape], 'f32', new StorageRef(this, out));
    cpuMatmul(this.memory.runtime, a.storage as CpuStorage, b.storage as CpuStorage, b.dtype as 'f32' | HalfDType, out, { // the ops layer allows no other
      batch: sizeOf(outShape.slice(0, r - 2)),
      M: outShape[r - 2]!,
      N: outShape[r - 1]!,
      K: o.transA ? a.shape[a.rank - 2]! : a.shape[a.rank - 1]!,
      aBatch: sizeOf(a.shape.slice(0, a.rank - 2)),
      bBatch: sizeOf(b.shape.slice(0, b.rank - 2)),
      transA: o.transA,
      transB: o.transB,
    });
    return t;
  }

  // ---- shape
  slice(x: Tensor, axis: number, start: number, length: number): Tensor {
    this.noHalf('sliced', x);
    const shape = [...x.shape];
    shape[axis] = length;
    const { t, d } = this.make(shape, x.dtype);
    sliceKernel(this.any(x), x.shape, axis, start, length, d);
    return t;
  }
  concat(xs: Tensor[], axis: number): Tensor {
    for (const x of xs) this.noHalf('concatenated', x);
    const shape = [...xs[0]!.shape];
    shape[axis] = xs.reduce((s, x) => s + x.shape[axis]!, 0);
    const { t, d } = this.make(shape, xs[0]!.dtype);
    concatKernel(xs.map((x) => ({ data: this.any(x), shape: x.shape })), axis, d);
    return t;
  }
  transpose(x: Tensor, perm: readonly number[]): Tensor {
    this.noHalf('transposed', x);
    const { t, d } = this.make(perm.map((p) => x.shape[p]!), x.dtype);
    transposeKernel(this.any(x), x.shape, perm, d);
    return t;
  }
  flip(x: Tensor, axis: number): Tensor {
    this.noHalf('flipped', x);
    const { t, d } = this.make(x.shape, x.dtype);
    flipKernel(this.any(x), x.shape, axis, d);
    return t;
  }

  writeSlice(dst: Tensor, src: Tensor, axis: number, start: number): void {
    // Viewing both as (outer, dim, inner) around `axis`: each outer block is one contiguous run.
    const inner = src.shape.slice(axis + 1).reduce((p, q) => p * q, 1);
    const outer = src.shape.slice(0, axis).reduce((p, q) => p * q, 1);
    const run = src.shape[axis]! * inner;
    const d = this.any(dst);
    const s = this.any(src);
    for (let o = 0; o < outer; o++) d.set(s.subarray(o * run, (o + 1) * run), (o * dst.shape[axis]! + start) * inner);
  }

  // ---- reductions
  private rows(x: Tensor): { n: number; lead: number[] } {
    return { n: x.shape[x.rank - 1]!, lead: x.shape.slice(0, -1) };
  }
  sumLastAxis(x: Tensor): Tensor {
    const { n, lead } = this.rows(x);
    const { t, d } = this.makeF(lead);
    sumRows(this.arr(x), n, d);
    return t;
  }
  maxLastAxis(x: Tensor): Tensor {
    const { n, lead } = this.rows(x);
    const { t, d } = this.makeF(lead);
    maxRows(this.arr(x), n, d);
    return t;
  }
  softmax(x: Tensor): Tensor {
    const { t, d } = this.makeF(x.shape);
    softmaxRows(this.arr(x), x.shape[x.rank - 1]!, d);
    return t;
  }
  argmax(x: Tensor): Tensor {
    const { n, lead } = this.rows(x);
    const { t, d } = this.make(lead, 'i32');
    argmaxRows(this.arr(x), n, d as Int32Array);
    return t;
  }
  topK(x: Tensor, k: number): { values: Tensor; indices: Tensor } {
    const { n, lead } = this.rows(x);
    const v = this.makeF([...lead, k]);
    const i = this.make([...lead, k], 'i32');
    topKRows(this.arr(x), n, k, v.d, i.d as Int32Array);
    return { values: v.t, indices: i.t };
  }

  sampleTokens(logits: Tensor, rngState: Tensor, o: SampleTokensScalars | SampleTokensPerRow): Tensor {
    const [B, V] = logits.shape as [number, number];
    const { t, d } = this.make([B, 1], 'i32');
    sampleTokensRows(this.arr(logits), V, this.any(rngState) as Int32Array, o, d as Int32Array);
    return t;
  }

  // ---- layers
  rmsNormBackward(x: Tensor, weight: Tensor, eps: number, g: Tensor): { dx: Tensor; dw: Tensor } | null {
    if (x.dtype !== 'f32' || weight.dtype !== 'f32' || g.dtype !== 'f32') return null;
    const dx = this.makeF(x.shape);
    const dw = this.makeF(weight.shape);
    rmsNormBackwardKernel(this.arr(x), this.arr(weight), eps, this.arr(g), dx.d, dw.d);
    return { dx: dx.t, dw: dw.t };
  }
  rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
    const { t, d } = this.makeF(x.shape);
    rmsNormKernel(this.arr(x), this.arr(weight), eps, d);
    return t;
  }
  embedding(ids: Tensor, table: Tensor): Tensor {
    const H = table.shape[1]!;
    const { t, d } = this.makeF([...ids.shape, H]);
    const rows = this.any(ids) as Int32Array;
    if (isHalf(table.dtype)) {
      // Rows of a packed weight (a tied LM head's table), widened as they are copied.
      const bits = (table.storage as CpuStorage).bits;
      const V = table.shape[0]!;
      for (let i = 0; i < rows.length; i++) {
        if (rows[i]! >= 0 && rows[i]! < V) widenHalfInto(table.dtype, bits, rows[i]! * H, H, d, i * H);
        else d.fill(0, i * H, (i + 1) * H); // as embeddingKernel
      }
      return t;
    }
    embeddingKernel(rows, this.arr(table), H, d);
    return t;
  }
  scatterAddRows(src: Tensor, order: Tensor, offsets: Tensor): Tensor {
    const H = src.shape[1]!;
    const { t, d } = this.makeF([offsets.size - 1, H], true); // accumulated into
    scatterAddRowsKernel(this.arr(src), this.any(order) as Int32Array, this.any(offsets) as Int32Array, H, d);
    return t;
  }
  causalConv1d(x: Tensor, weight: Tensor, bias: Tensor | null, state: Tensor | null, o: ConvOptions) {
    const [B, L, D] = x.shape as [number, number, number];
    const K = weight.shape[1]!;
    const out = this.makeF(x.shape);
    const st = this.makeF([B, D, K - 1]);
    const storages = { x: storageOf(x)!, w: storageOf(weight)!, bias: storageOf(bias), state: storageOf(state), out: storageOf(out.t)!, newState: storageOf(st.t)! };
    if (wasmConv1d(this.memory.runtime, storages, { batch: B, L, D, K }, o.silu)) return { out: out.t, state: st.t };
    causalConv1dKernel(
      this.arr(x), this.arr(weight), bias ? this.arr(bias) : null, state ? this.arr(state) : null,
      B, L, D, K, o.silu, out.d, st.d,
    );
    return { out: out.t, state: st.t };
  }
  private conv2dDims(x: Tensor, weight: Tensor): Conv2dDims {
    const [B, H, W, C] = x.shape as [number, number, number, number];
    return { B, H, W, C, K: weight.shape[1]! };
  }
  depthwiseConv2d(x: Tensor, weight: Tensor, bias: Tensor | null): Tensor {
    const { t, d } = this.makeF(x.shape);
    depthwiseConv2dKernel(this.arr(x), this.arr(weight), bias ? this.arr(bias) : null, this.conv2dDims(x, weight), d);
    return t;
  }
  depthwiseConv2dBackward(x: Tensor, weight: Tensor, bias: Tensor | null, gOut: Tensor) {
    const g = depthwiseConv2dBackwardKernel(this.arr(x), this.arr(weight), this.conv2dDims(x, weight), this.arr(gOut));
    return { dx: this.wrap(g.dx, x.shape), dw: this.wrap(g.dw, weight.shape), dbias: bias ? this.wrap(g.dbias, bias.shape) : null };
  }
  selectiveScan(i: ScanInputs, o: ScanOptions): { out: Tensor; lastState: Tensor } {
    const [batch, L, D] = i.u.shape as [number, number, number];
    const N = i.A.shape[1]!;
    const out = this.makeF(i.u.shape);
    const last = this.makeF([batch, D, N]);
    const dims = { batch, L, D, N };
    if (this.options.scan !== 'chunked' && wasmScan(this.memory.runtime, this.scanStorages(i, out.t, last.t), dims, o.deltaSoftplus)) {
      return { out: out.t, lastState: last.t };
    }
    const arrays = this.scanArrays(i);
    if (this.options.scan === 'chunked') {
      selectiveScanChunked(arrays, dims, o.deltaSoftplus, out.d, last.d, this.options.scanChunk);
    } else {
      selectiveScanSequential(arrays, dims, o.deltaSoftplus, out.d, last.d);
    }
    return { out: out.t, lastState: last.t };
  }
  crossEntropy(logits: Tensor, labels: Tensor, ignoreIndex: number): Tensor {
    const V = logits.shape[logits.rank - 1]!;
    const { t, d } = this.makeF(labels.shape);
    crossEntropyRows(this.arr(logits), V, this.any(labels) as Int32Array, ignoreIndex, d);
    return t;
  }
  crossEntropyBackward(logits: Tensor, labels: Tensor, ignoreIndex: number, g: Tensor): Tensor {
    const V = logits.shape[logits.rank - 1]!;
    const { t, d } = this.makeF(logits.shape);
    crossEntropyRowsBackward(this.arr(logits), V, this.any(labels) as Int32Array, ignoreIndex, this.arr(g), d);
    return t;
  }
  embeddingBackward(ids: Tensor, gOut: Tensor, V: number): Tensor {
    const H = gOut.shape[gOut.rank - 1]!;
    const { t, d } = this.makeF([V, H], true); // accumulated into
    embeddingBackwardKernel(this.any(ids) as Int32Array, this.arr(gOut), H, d);
    return t;
  }
  causalConv1dBackward(x: Tensor, weight: Tensor, bias: Tensor | null, state: Tensor | null, o: ConvOptions, gOut: Tensor, gState: Tensor | null) {
    const [B, L, D] = x.shape as [number, number, number];
    const K = weight.shape[1]!;
    const wasm = this.conv1dBackwardWasm(x, weight, bias, state, o, gOut, gState);
    if (wasm) return wasm;
    const g = causalConv1dBackwardKernel(
      this.arr(x), this.arr(weight), bias ? this.arr(bias) : null, state ? this.arr(state) : null,
      B, L, D, K, o.silu, this.arr(gOut), gState ? this.arr(gState) : null,
    );
    const t = (data: Float32Array, like: Tensor) => this.wrap(data, like.shape);
    return { dx: t(g.dx, x), dw: t(g.dw, weight), dbias: bias ? t(g.dbias, bias) : null, dstate: state ? t(g.dstate, state) : null };
  }
  /** causalConv1dBackward on the WebAssembly kernels (assembly/conv-backward.ts); null where they cannot run it. */
  private conv1dBackwardWasm(x: Tensor, weight: Tensor, bias: Tensor | null, state: Tensor | null, o: ConvOptions, gOut: Tensor, gState: Tensor | null) {
    const rt = this.memory.runtime;
    if (!rt) return null;
    const [B, L, D] = x.shape as [number, number, number];
    const dx = this.makeF(x.shape).t;
    const dw = this.makeF(weight.shape).t;
    const dbias = bias ? this.makeF(bias.shape).t : null;
    const dstate = state ? this.makeF(state.shape).t : null;
    const storages = {
      x: storageOf(x)!, w: storageOf(weight)!, bias: storageOf(bias), state: storageOf(state), gOut: storageOf(gOut)!, gState: storageOf(gState), dx: storageOf(dx)!, dw: storageOf(dw)!, dbias: storageOf(dbias), dstate: storageOf(dstate),
    };
    if (wasmConv1dBackward(rt, storages, { batch: B, L, D, K: weight.shape[1]! }, o.silu)) return { dx, dw, dbias, dstate };
    for (const t of [dx, dw, dbias, dstate]) t?.dispose();
    return null;
  }
  selectiveScanBackward(i: ScanInputs, o: ScanOptions, gOut: Tensor, gLast: Tensor | null): ScanGradients {
    const [batch, L, D] = i.u.shape as [number, number, number];
    const N = i.A.shape[1]!;
    const wasm = this.scanBackwardWasm(i, o, gOut, gLast, { batch, L, D, N });
    if (wasm) return wasm;
    const arrays = this.scanArrays(i);
    const g = selectiveScanBackward(arrays, { batch, L, D, N }, o.deltaSoftplus, this.arr(gOut), gLast ? this.arr(gLast) : null);
    const t = (data: Float32Array, like: Tensor) => this.wrap(data, like.shape);
    return {
      du: t(g.du, i.u), ddelta: t(g.ddelta, i.delta), dA: t(g.dA, i.A), dB: t(g.dB, i.B), dC: t(g.dC, i.C),
      dD: i.D ? t(g.dD, i.D) : null,
      dz: i.z ? t(g.dz, i.z) : null,
      ddeltaBias: i.deltaBias ? t(g.dbias, i.deltaBias) : null,
      dInitialState: i.initialState ? t(g.dh0, i.initialState) : null,
    };
  }
  /** The WebAssembly scan backward, or null where it does not run (no kernels, D not a multiple of 4). */
  private scanBackwardWasm(i: ScanInputs, o: ScanOptions, gOut: Tensor, gLast: Tensor | null, dims: ScanDims): ScanGradients | null {
    const rt = this.memory.runtime;
    const inputs = [i.u, i.delta, i.A, i.B, i.C, i.D, i.z, i.deltaBias, i.initialState, gOut, gLast];
    if (!rt || !scanBackwardFits(dims.D, inputs.map(storageOf))) return null;
    const out = (like: Tensor) => this.makeF(like.shape).t;
    const g = {
      du: out(i.u), ddelta: out(i.delta), dA: out(i.A), dB: out(i.B), dC: out(i.C), dD: this.makeF([dims.D]).t,
      dz: i.z ? out(i.z) : null, dbias: this.makeF([dims.D]).t, dh0: this.makeF([dims.batch, dims.D, dims.N]).t,
    };
    const outputs = [g.du, g.ddelta, g.dA, g.dB, g.dC, g.dD, g.dz, g.dbias, g.dh0];
    if (!scanBackwardFits(dims.D, outputs.map(storageOf))) {
      for (const t of outputs) t?.dispose();
      return null;
    }
    scanBackwardOnPool(rt, {
      u: storageOf(i.u)!, delta: storageOf(i.delta)!, A: storageOf(i.A)!, B: storageOf(i.B)!, C: storageOf(i.C)!, D: storageOf(i.D), z: storageOf(i.z), deltaBias: storageOf(i.deltaBias),
      initialState: storageOf(i.initialState), gOut: storageOf(gOut)!, gLast: storageOf(gLast),
      du: storageOf(g.du)!, ddelta: storageOf(g.ddelta)!, dA: storageOf(g.dA)!, dB: storageOf(g.dB)!, dC: storageOf(g.dC)!, dD: storageOf(g.dD)!, dz: storageOf(g.dz), dbias: storageOf(g.dbias)!, dh0: storageOf(g.dh0)!,
    }, dims, o.deltaSoftplus);
    const keepIf = (t: Tensor, wanted: boolean) => (wanted ? t : (t.dispose(), null));
    return {
      du: g.du, ddelta: g.ddelta, dA: g.dA, dB: g.dB, dC: g.dC, dz: g.dz,
      dD: keepIf(g.dD, i.D !== null), ddeltaBias: keepIf(g.dbias, i.deltaBias !== null), dInitialState: keepIf(g.dh0, i.initialState !== null),
    };
  }
  attention(i: AttentionInputs): Tensor {
    const [B, Lq, H, hd] = i.q.shape as [number, number, number, number];
    const [, Hkv, cap] = i.k.shape as [number, number, number, number];
    const { t, d } = this.makeF(i.q.shape);
    const dims = { B, Lq, H, Hkv, hd, cap, Lk: i.keyLength };
    const storages = { q: storageOf(i.q)!, k: storageOf(i.k)!, v: storageOf(i.v)!, mask: storageOf(i.keyMask), out: storageOf(t)! };
    if (wasmAttention(this.memory.runtime, storages, dims)) return t;
    attentionKernel(this.arr(i.q), this.arr(i.k), this.arr(i.v), i.keyMask ? this.arr(i.keyMask) : null, dims, d);
    return t;
  }
  rope(x: Tensor, positions: Tensor, invFreq: Tensor, inverse: boolean): Tensor {
    const { t, d } = this.makeF(x.shape);
    ropeKernel(this.arr(x), this.any(positions) as Int32Array, this.arr(invFreq), x.shape[2]!, inverse, d);
    return t;
  }
  /** A Mamba layer's decode step on the WebAssembly kernels without tensors between them (mamba-step.ts); null where they do not run. */
  mambaBlockStep(i: MambaBlockStepInputs): { out: Tensor; convState: Tensor; ssmState: Tensor } | null {
    if (!this.memory.runtime) return null;
    const fresh: Tensor[] = [];
    const output = (given: Tensor | undefined, shape: Shape): Tensor => {
      if (given) return given;
      const t = new Tensor([...shape], 'f32', new StorageRef(this, this.memory.alloc('f32', sizeOf(shape), false)));
      fresh.push(t);
      return t;
    };
    const out = output(undefined, i.h.shape);
    // In place: computed into fresh states (the kernels read the old ones as they write), then copied over the old ones.
    const convState = output(i.inPlace ? undefined : i.convStateOut, i.convState.shape);
    const ssmState = output(i.inPlace ? undefined : i.ssmStateOut, i.ssmState.shape);
    if (!cpuMambaBlockStep(this.memory, i, { out: storageOf(out)!, convState: storageOf(convState)!, ssmState: storageOf(ssmState)! })) {
      for (const t of fresh) t.dispose();
      return null;
    }
    if (!i.inPlace) return { out, convState, ssmState };
    this.arr(i.convState).set(this.arr(convState));
    this.arr(i.ssmState).set(this.arr(ssmState));
    convState.dispose();
    ssmState.dispose();
    return { out, convState: i.convState, ssmState: i.ssmState };
  }
  /**
   * A Mamba-2 layer's decode step without tensors between its parts (mamba2-step.ts), the states
   * updated in place; null where its kernels do not run (the op-by-op step runs instead).
   */
  mamba2BlockStep(i: Mamba2BlockStepInputs): Tensor | null {
    if (!this.memory.runtime) return null;
    const out = this.makeF(i.h.shape).t;
    if (cpuMamba2BlockStep(this.memory, i, storageOf(out)!)) return out;
    out.dispose();
    return null;
  }
  /**
   * Mamba-2's SSD forward on the WebAssembly kernels: the recurrence token by token
   * (assembly/ssd-scan.ts), the same map as the chunked form with fewer operations on a CPU. It keeps
   * nothing for its backward (ssdChunkedBackward recomputes the states). Null (the composed chunked
   * ops run) where the kernels do not run.
   */
  ssdChunkedForward(i: SsdForwardInputs): SsdForwardResult | null {
    if (!this.memory.runtime) return null;
    const [batch, L, heads, headDim] = i.x.shape as [number, number, number, number];
    const [, , groups, N] = i.B.shape as [number, number, number, number];
    const out = this.makeF(i.x.shape);
    const last = this.makeF([batch, heads, headDim, N]);
    const storages = {
      x: storageOf(i.x)!, dt: storageOf(i.dt)!, A: storageOf(i.A)!, D: storageOf(i.D), B: storageOf(i.B)!, C: storageOf(i.C)!, initialState: storageOf(i.initialState), out: storageOf(out.t)!, lastState: storageOf(last.t)!,
    };
    if (wasmSsdScan(this.memory.runtime, storages, { batch, L, heads, headDim, groups, N })) {
      return i.keep ? { out: out.t, lastState: last.t, kept: { cum: null, states: null } } : { out: out.t, lastState: last.t };
    }
    out.t.dispose();
    last.t.dispose();
    return null;
  }
  /** The backward of ssdChunkedForward (assembly/ssd-scan-backward.ts), its states recomputed from the inputs. */
  ssdChunkedBackward(i: SsdForwardInputs, _saved: SsdSaved, gOut: Tensor, gLast: Tensor | null): SsdGradients {
    const rt = this.memory.runtime;
    if (!rt) throw new Error('cpu: ssdChunkedBackward without the WebAssembly kernels (its forward does not run without them)');
    const [batch, L, heads, headDim] = i.x.shape as [number, number, number, number];
    const [, , groups, N] = i.B.shape as [number, number, number, number];
    const dx = this.makeF(i.x.shape).t;
    const ddt = this.makeF(i.dt.shape).t;
    const dA = this.makeF(i.A.shape).t;
    const dD = i.D ? this.makeF(i.D.shape).t : null;
    const dB = this.makeF(i.B.shape).t;
    const dC = this.makeF(i.C.shape).t;
    const dh0 = this.makeF([batch, heads, headDim, N]).t;
    const outputs = [dx, ddt, dA, dD, dB, dC, dh0];
    const storages = {
      x: storageOf(i.x)!, dt: storageOf(i.dt)!, A: storageOf(i.A)!, D: storageOf(i.D), B: storageOf(i.B)!, C: storageOf(i.C)!, initialState: storageOf(i.initialState), gOut: storageOf(gOut)!, gLast: storageOf(gLast),
      dx: storageOf(dx)!, ddt: storageOf(ddt)!, dA: storageOf(dA)!, dD: storageOf(dD), dB: storageOf(dB)!, dC: storageOf(dC)!, dInitialState: storageOf(dh0)!,
    };
    let ran: boolean;
    try {
      ran = wasmSsdScanBackward(rt, storages, { batch, L, heads, headDim, groups, N });
    } catch (e) {
      for (const t of outputs) t?.dispose();
      throw e;
    }
    if (!ran) {
      // The forward ran on these kernels, so its inputs live in the heap; a gradient or an output
      // outside it means the heap (4 GiB) is full: an error, never a kernel writing elsewhere.
      for (const t of outputs) t?.dispose();
      throw new Error('cpu: ssdChunkedBackward: a gradient or output is not a float32 tensor of the WebAssembly heap (is the 4 GiB heap full?)');
    }
    let dInitialState: Tensor | null = dh0;
    if (!i.initialState) {
      dh0.dispose();
      dInitialState = null;
    }
    return { dx, ddt, dA, dB, dC, dD, dInitialState };
  }
  selectiveStateUpdate(i: StateUpdateInputs, o: ScanOptions): { out: Tensor; state: Tensor } {
    const [batch, dim, N] = i.state.shape as [number, number, number];
    const f = (t: Tensor | null) => (t ? this.arr(t) : null);
    const out = this.makeF([batch, dim]);
    const st = this.makeF(i.state.shape);
    // One step is the scan with L = 1: the state in as its initial state, the new one as its last.
    const scanInputs = { u: i.x, delta: i.dt, A: i.A, B: i.B, C: i.C, D: i.D, z: i.z, deltaBias: i.dtBias, initialState: i.state };
    if (wasmScan(this.memory.runtime, this.scanStorages(scanInputs, out.t, st.t), { batch, L: 1, D: dim, N }, o.deltaSoftplus)) {
      return { out: out.t, state: st.t };
    }
    selectiveStateUpdateKernel(
      this.arr(i.state), this.arr(i.x), this.arr(i.dt), this.arr(i.A), this.arr(i.B), this.arr(i.C),
      f(i.D), f(i.z), f(i.dtBias), batch, dim, N, o.deltaSoftplus, out.d, st.d,
    );
    return { out: out.t, state: st.t };
  }

  // ---- optimizers
  adamwUpdate(p: Tensor, g: Tensor, m: Tensor, v: Tensor, h: AdamWScalars): void {
    const rt = this.memory.runtime;
    const st = [p, g, m, v].map((t) => t.storage as CpuStorage);
    if (rt && st.every((s) => s.heap)) return adamwOnPool(rt, st[0]!, st[1]!, st[2]!, st[3]!, h);
    adamwKernel(this.arr(p), this.arr(g), this.arr(m), this.arr(v), h);
  }
  sumOfSquares(xs: readonly Tensor[]): number {
    let s = 0;
    for (const x of xs) s += sumOfSquares(this.arr(x));
    return s;
  }
  scaleInPlace(x: Tensor, a: number): void {
    scaleInPlace(this.arr(x), a);
  }
  createFusedAdamW(layout: FusedAdamWLayout): FusedAdamW {
    return new CpuFusedAdamW(this, layout);
  }
}
