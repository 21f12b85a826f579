/**
 * The WebGPU backend: WGSL kernels (kernels/), pooled buffers, and one command encoder per batch of
 * work, submitted when values are read back (see context.ts). Shapes were checked by the ops layer.
 */
import { envSwitch } from '../../env.js';
import type {
  AttentionAtInputs,
  AttentionInputs,
  Backend,
  BinaryOp,
  ConvOptions,
  MambaBlockStepInputs,
  MambaBlockStepWeights,
  Mamba2BlockStepInputs,
  MatmulOptions,
  SsdForwardInputs,
  SsdForwardResult,
  SsdGradients,
  SsdSaved,
  MoeStepInputs,
  ScanGradients,
  ScanInputs,
  SampleTokensPerRow,
  SampleTokensScalars,
  ScanOptions,
  StateUpdateInputs,
  RecordedWork,
  FusedAdamW,
  FusedAdamWLayout,
  Storage,
  UnaryOp,
} from '../backend.js';
import { isHalf, storageBytes, type DataArray, type DType } from '../../tensor/dtype.js';
import { bf16ToF32, f16ToF32 } from '../../tensor/half.js';
import { weightDType } from './kernels/weights.js';
import { sizeOf, stridesOf, type Shape } from '../../tensor/shape.js';
import { StorageRef, Tensor } from '../../tensor/tensor.js';
import { acquireDevice } from './device.js';
import { UnsupportedError } from '../../errors.js';
import { GpuContext, grid1d, Uniforms, type Kernel, type LaunchGraph } from './context.js';
import { GpuFusedAdamW } from './fused-adamw.js';
import { affineKernel, binaryKernel, castKernel, unaryKernel } from './kernels/elementwise.js';
import { stridedCopyKernel } from './kernels/copy.js';
import { splitK, splitKSumKernel, tiledMatmulKernel, tiledMatmulUniforms } from './kernels/matmul.js';
import { crossEntropyBackwardKernel, crossEntropyKernel, ARGMAX_CHUNK, argmaxFinalKernel, argmaxPartialKernel, argmaxKernel, rmsNormKernel, rowMaxKernel, rowSumKernel, softmaxKernel, topKKernel } from './kernels/rows.js';
import { causalConvKernel, embeddingKernel } from './kernels/layers.js';
import { CONV_DW_WG, convDpreKernel, convDwFinalKernel, convDwPartialKernel, convDxKernel } from './kernels/conv-backward.js';
import { EMB_BWD_H, embeddingBackwardKernel, embeddingBackwardSlicesKernel, embeddingBackwardSumKernel } from './kernels/embedding-backward.js';
import { scatterAddRowsKernel } from './kernels/scatter-add-rows.js';
import { flipKernel } from './kernels/flip.js';
import { depthwiseConv2dDwPartialKernel, depthwiseConv2dDxKernel, depthwiseConv2dKernel, DWCONV2D_DW_WG } from './kernels/depthwise-conv2d.js';
import { dtSsmRowsKernel, dtSsmUpdateKernel, dtSsmV2Fits, dtSsmV2Grid, dtSsmV2Kernel, normInProjConvKernel, ssmChannelsPerGroup, ssmStepLayout, type StepVariant } from './kernels/mamba-step.js';
import { batchInProjTile, batchLinearGrid, batchLinearKernel, batchLinearTile, batchLinearUniforms, batchMamba2NormInProjConvKernel, batchNormInProjConvKernel, type BatchEpilogue, type BatchTile } from './kernels/batch-linear.js';
import { splitKEpilogueGrid, splitKNormConvKernel, splitKNormConvUniforms, splitKPlan, splitKProductKernel, splitKProductUniforms, splitKProducts, batchSplitKSumKernel, splitKSumUniforms } from './kernels/batch-split-k.js';
import { GEMV4_MAX_ROWS, gemv4PerGroup, gemvGrid, linear4Kernel, linearResidual4Kernel, normLinear4Kernel, rowBlocks } from './kernels/gemv4.js';
import { GATED_NORM_SEGMENTS, mamba2ChannelsPerGroup, mamba2GatedOutProjKernel, mamba2NormInProjConvKernel, mamba2SsmStepKernel, projSize, type Mamba2StepDims } from './kernels/mamba2-step.js';
import { ropeKernel } from './kernels/rope.js';
import { DECODE_WG, decodeAttentionKernel, decodeCombineKernel, decodeTile, flashAttentionKernel, flashTiles, kvAppendAtKernel } from './kernels/attention.js';
import { MOE_MAX_SLOTS, moeCombineKernel, moeRowsGrid, moeRowsKernel } from './kernels/moe-step.js';
import { sampleTokensKernel } from './kernels/sample-tokens.js';
import { SCAN_WG, scanCarryKernel, scanChunkStateKernel, scanOutputKernel, stateUpdateKernel } from './kernels/scan.js';
import { SSD_OUT_PB, SSD_OUT_TR, SSD_SCORES_MAX_BYTES, SSD_STATE_NB, SSD_STATE_PB, ssdCarryKernel, ssdChunkStateKernel, ssdCumsumKernel, ssdOutputKernel, ssdScoresKernel, ssdStateGradKernel, ssdUniformWords, type SsdDims } from './kernels/ssd.js';
import { SSD_V2_BLOCK, ssdChunkStateV2Kernel, ssdCumsumV2Kernel, ssdOutputV2Kernel, ssdScoresV2Kernel } from './kernels/ssd-v2.js';
import { ssdScoresSplit, ssdScoresSplitBlocks, ssdScoresSplitKernel } from './kernels/ssd-scores-split.js';
import { ssdChunkGradKernel, ssdDbKernel, ssdDcKernel, ssdDxAccKernel, ssdParamGradKernel, ssdReverseCarryKernel, ssdRowsKernel } from './kernels/ssd-backward.js';
import {
  scanBackwardLayout,
  SCAN_BWD_WG,
  scanGradKernel,
  scanLocalDhKernel,
  scanReduceBCKernel,
  scanReduceParamsKernel,
  scanReverseCarryKernel,
} from './kernels/scan-backward.js';

/** A WebGPU tensor's storage: its pooled buffer. */
export class GpuStorage implements Storage {
  constructor(
    readonly buffer: GPUBuffer,
    readonly byteLength: number,
  ) {}
}

const MAX_RANK = 8;
/** The deterministic embedding backward is chosen up to this many (row, h block, position) visits. */
export const EMB_BWD_DETERMINISTIC_WORK = 2 ** 28;
/**
 * Products with up to this many rows (decode batches) run as the blocked gemv (gemv4.ts): the
 * tiled matmul makes too few workgroups for them to fill the GPU. MAMBA_TS_GEMV_MATMUL_ROWS moves
 * the bound, for benchmarking.
 */
const GEMV_MATMUL_MAX_ROWS = envRows('MAMBA_TS_GEMV_MATMUL_ROWS', 64);
/**
 * The fused norm + LM head gemv takes up to this many rows; more go through rmsNorm and the
 * matmul (see WIDE_OUTPUTS). MAMBA_TS_NORM_LINEAR_ROWS moves it, for benchmarking.
 */
const NORM_LINEAR_MAX_ROWS = envRows('MAMBA_TS_NORM_LINEAR_ROWS', 32);
/**
 * A product this wide (an LM head: 50,280 outputs) leaves the gemv past WIDE_GEMV_MAX_ROWS rows:
 * with so many output tiles the tiled matmul fills the GPU, and it reads each weight tile once per
 * 128 rows instead of once per block of 8. Measured on an H100 (docs/throughput.md): 7% more
 * tokens/s at batch 64 and 16% at 128 for a 130M Mamba, 11% fewer at batch 32.
 */
const WIDE_OUTPUTS = 16384;
const WIDE_GEMV_MAX_ROWS = Math.min(GEMV_MATMUL_MAX_ROWS, NORM_LINEAR_MAX_ROWS);

/**
 * A wide product (WIDE_OUTPUTS: an LM head) over WIDE_MATMUL_ROWS rows or more goes through the
 * tiled matmul rather than batch-linear.ts's kernel: measured on an H100 at 128 rows, 341 against
 * 566 µs (130M's LM head) and 1,518 against 1,740 µs (1.4B's); at 64 rows the batch kernel won
 * (291 against 571 µs). MAMBA_TS_BATCH_LINEAR_WIDE=matmul sends every wide product over
 * WIDE_GEMV_MAX_ROWS rows there, =batch none, for comparing the two.
 */
const WIDE_MATMUL_ROWS = 128;
function wideToMatmul(M: number, N: number): boolean {
  if (N < WIDE_OUTPUTS) return false;
  const v = envSwitch('MAMBA_TS_BATCH_LINEAR_WIDE');
  if (v === 'batch') return false;
  return M > WIDE_GEMV_MAX_ROWS && (v === 'matmul' || M >= WIDE_MATMUL_ROWS);
}

/**
 * The tile when a decode batch of M rows × N outputs over K inputs runs through batch-linear.ts's
 * tiled kernel; null for the gemv or the tiled matmul.
 */
function batchLinearFor(M: number, N: number, K: number): BatchTile | null {
  return M <= GEMV4_MAX_ROWS && !wideToMatmul(M, N) ? batchLinearTile(M, N, K) : null;
}

/** batchLinearFor for Mamba's and Mamba-2's fused norm + in_proj (MAMBA_TS_BATCH_IN_TILE may name its own tile). */
function batchInProjFor(M: number, N: number, K: number): BatchTile | null {
  return M <= GEMV4_MAX_ROWS && !wideToMatmul(M, N) ? batchInProjTile(M, N, K) : null;
}

function envRows(name: string, fallback: number): number {
  const v = Number(envSwitch(name));
  return Number.isInteger(v) && v >= 0 ? Math.min(v, GEMV4_MAX_ROWS) : fallback;
}

/** Shapes and strides for the rank-generic kernels (binary ops, strided copies), at most rank 8. */
function vec8(values: readonly number[]): number[] {
  if (values.length > MAX_RANK) throw new UnsupportedError(`webgpu: tensors of rank ${values.length} (at most ${MAX_RANK}) are not supported`);
  const v = new Array<number>(MAX_RANK).fill(0);
  values.forEach((x, i) => (v[i] = x));
  return v;
}

export class WebGpuBackend implements Backend {
  readonly name = 'webgpu' as const;
  private bytes = 0;
  /** Bound where an optional input is absent (flags in the uniforms say so). */
  private dummy: GPUBuffer;
  private packedParams = new Map<string, { buffer: GPUBuffer; sources: StorageRef[] }>();
  /** Parameter packs made so far (see packed()): decode steps after the first should make none. */
  packsMade = 0;

  private constructor(
    readonly ctx: GpuContext,
    readonly adapterInfo: string,
    /** The adapter emulates a GPU on the CPU (llvmpipe, SwiftShader, ...). */
    readonly softwareAdapter: boolean,
  ) {
    this.dummy = ctx.buffer(256, 'placeholder');
  }

  static async create(): Promise<WebGpuBackend> {
    const { device, adapterInfo, software } = await acquireDevice();
    return new WebGpuBackend(new GpuContext(device), adapterInfo, software);
  }

  get device(): GPUDevice {
    return this.ctx.device;
  }

  // ---- memory
  private newStorage(size: number, what: string, dtype: DType = 'f32'): GpuStorage {
    const bytes = Math.max(4, storageBytes(dtype, size));
    const s = new GpuStorage(this.ctx.buffer(bytes, what), bytes);
    this.bytes += bytes;
    return s;
  }
  alloc(_dtype: DType, size: number): Storage {
    const s = this.newStorage(size, 'a tensor');
    this.ctx.clear(s.buffer, s.byteLength);
    return s;
  }
  upload(data: DataArray): Storage {
    const s = this.newStorage(data.length, 'a tensor');
    if (data.length) this.ctx.write(s.buffer, data);
    return s;
  }
  uploadHalf(bits: Uint16Array): Storage {
    const s = this.newStorage(bits.length, 'a half-precision weight', 'bf16');
    if (bits.length) {
      // Whole 32-bit words: an odd count gets a zero half at the end.
      const words = new Uint16Array(Math.ceil(bits.length / 2) * 2);
      words.set(bits);
      this.ctx.write(s.buffer, words);
    }
    return s;
  }
  async read(s: Storage, dtype: DType, size: number): Promise<DataArray> {
    if (size === 0) return dtype === 'i32' ? new Int32Array(0) : new Float32Array(0);
    const buf = await this.ctx.read((s as GpuStorage).buffer, storageBytes(dtype, size));
    if (dtype === 'bf16') return bf16ToF32(new Uint16Array(buf, 0, size));
    if (dtype === 'f16') return f16ToF32(new Uint16Array(buf, 0, size));
    return dtype === 'f32' ? new Float32Array(buf, 0, size) : new Int32Array(buf, 0, size);
  }
  free(s: Storage): void {
    this.bytes -= s.byteLength;
    this.ctx.release((s as GpuStorage).buffer);
  }
  memoryBytes(): number {
    return this.bytes;
  }
  /** Waits for all submitted work (for benchmarks). */
  sync(): Promise<void> {
    return this.ctx.sync();
  }

  private buf(t: Tensor | null): GPUBuffer {
    return t ? (t.storage as GpuStorage).buffer : this.dummy;
  }
  private make(shape: Shape, dtype: DType = 'f32'): Tensor {
    const s = this.newStorage(sizeOf(shape), `a ${dtype} tensor of shape [${shape.join(', ')}]`);
    return new Tensor([...shape], dtype, new StorageRef(this, s));
  }
  private run1d(k: Kernel, bufs: GPUBuffer[], u: Uniforms, n: number): void {
    this.ctx.dispatch(k, bufs, u.buffer, grid1d(n));
  }

  // ---- elementwise
  unary(op: UnaryOp, x: Tensor): Tensor {
    const y = this.make(x.shape);
    this.run1d(unaryKernel(op), [this.buf(x), this.buf(y)], new Uniforms(4).u32(x.size), x.size);
    return y;
  }
  binary(op: BinaryOp, a: Tensor, b: Tensor, outShape: Shape): Tensor {
    const y = this.make(outShape, a.dtype);
    const bstr = (s: Shape) => {
      const st = stridesOf(s);
      const off = outShape.length - s.length;
      return outShape.map((_, i) => (i < off || s[i - off] === 1 ? 0 : st[i - off]!));
    };
    const u = new Uniforms(112).u32(y.size, outShape.length, 0, 0).u32(...vec8(outShape)).u32(...vec8(bstr(a.shape))).u32(...vec8(bstr(b.shape)));
    this.run1d(binaryKernel(op, a.dtype === 'i32' ? 'i32' : 'f32'), [this.buf(a), this.buf(b), this.buf(y)], u, y.size);
    return y;
  }
  affine(x: Tensor, a: number, b: number): Tensor {
    const y = this.make(x.shape);
    this.run1d(affineKernel, [this.buf(x), this.buf(y)], new Uniforms(12).u32(x.size).f32(a, b), x.size);
    return y;
  }
  cast(x: Tensor, dtype: DType): Tensor {
    if (x.dtype === dtype && !isHalf(dtype)) return this.copyStrided(x, x.shape, stridesOf(x.shape), 0);
    if (isHalf(dtype)) throw new Error(`webgpu: no cast between ${x.dtype} and ${dtype}`);
    const y = this.make(x.shape, dtype);
    this.run1d(castKernel(x.dtype, dtype), [this.buf(x), this.buf(y)], new Uniforms(4).u32(x.size), x.size);
    return y;
  }

  // ---- linear algebra
  matmul(a: Tensor, b: Tensor, outShape: Shape, o: MatmulOptions): Tensor {
    const r = outShape.length;
    const M = outShape[r - 2]!;
    const N = outShape[r - 1]!;
    const K = o.transA ? a.shape[a.rank - 2]! : a.shape[a.rank - 1]!;
    const batch = sizeOf(outShape.slice(0, r - 2));
    const y = this.make(outShape);
    const aBatch = sizeOf(a.shape.slice(0, -2));
    const bBatch = sizeOf(b.shape.slice(0, -2));
    // The batch kernel only up to the gemv's rows: past them (prefill, training) the tiled matmul
    // runs as before, unmeasured against it.
    const batchTile = batch === 1 && M <= GEMV_MATMUL_MAX_ROWS && o.transB && !o.transA && a.dtype === 'f32' ? batchLinearFor(M, N, K) : null;
    if (batchTile) {
      this.batchLinear(batchTile, 'plain', a, b, y, M, N, K);
      return y;
    }
    const gemvRows = N >= WIDE_OUTPUTS ? WIDE_GEMV_MAX_ROWS : GEMV_MATMUL_MAX_ROWS;
    if (batch === 1 && M <= gemvRows && o.transB && !o.transA && a.dtype === 'f32') {
      const rb = rowBlocks(M);
      const grid = gemvGrid(N, K, rb);
      this.ctx.dispatch(linear4Kernel(rb, K, weightDType(b.dtype)), [this.buf(a), this.buf(b), this.dummy, this.buf(y)], new Uniforms(16).u32(N, grid[0], 0, M).buffer, grid);
      return y;
    }
    // The largest tile that still gives about two waves of workgroups (skinny products such as
    // x_proj, N = R + 2·N_state, get 32×32 tiles).
    const tiles = (t: number) => Math.ceil(M / t) * Math.ceil(N / t) * batch;
    const tile = tiles(128) >= 256 ? 128 : tiles(64) >= 256 ? 64 : 32;
    const { slices, kLen } = splitK(tiles(tile), M * N * batch, K);
    const kernel = tiledMatmulKernel(o.transA, o.transB, (tile / 16) as 2 | 4 | 8, weightDType(b.dtype));
    const u = tiledMatmulUniforms(M, N, K, aBatch === 1 ? 0 : M * K, bBatch === 1 ? 0 : K * N, kLen, slices);
    const grid: [number, number, number] = [Math.ceil(N / tile), Math.ceil(M / tile), batch * slices];
    if (slices === 1) {
      this.ctx.dispatch(kernel, [this.buf(a), this.buf(b), this.buf(y)], u, grid);
      return y;
    }
    const part = this.make([batch * slices, M, N]);
    this.ctx.dispatch(kernel, [this.buf(a), this.buf(b), this.buf(part)], u, grid);
    const total = batch * M * N;
    const g = grid1d(total);
    this.ctx.dispatch(splitKSumKernel, [this.buf(part), this.buf(y)], new Uniforms(16).u32(M * N, slices, total, g[0]).buffer, g);
    part.dispose();
    return y;
  }

  // ---- shape
  /** Copies a strided view of x (shape, strides, offset) into a new contiguous tensor. */
  private copyStrided(x: Tensor, shape: Shape, strides: number[], offset: number): Tensor {
    if (isHalf(x.dtype)) throw new Error(`webgpu: ${x.dtype} weights cannot be sliced, concatenated or transposed`);
    const y = this.make(shape, x.dtype);
    const u = new Uniforms(112).u32(y.size, shape.length, offset, 0).u32(...vec8(shape)).u32(...vec8(strides)).u32(...vec8(stridesOf(shape)));
    if (y.size) this.run1d(stridedCopyKernel, [this.buf(x), this.buf(y)], u, y.size);
    return y;
  }
  slice(x: Tensor, axis: number, start: number, length: number): Tensor {
    const shape = [...x.shape];
    shape[axis] = length;
    const st = stridesOf(x.shape);
    return this.copyStrided(x, shape, st, start * st[axis]!);
  }
  concat(xs: Tensor[], axis: number): Tensor {
    const shape = [...xs[0]!.shape];
    shape[axis] = xs.reduce((s, x) => s + x.shape[axis]!, 0);
    const y = this.make(shape, xs[0]!.dtype);
    const dst = stridesOf(shape);
    let at = 0;
    for (const x of xs) {
      if (x.size) {
        const u = new Uniforms(112).u32(x.size, x.rank, 0, at * dst[axis]!).u32(...vec8(x.shape)).u32(...vec8(stridesOf(x.shape))).u32(...vec8(dst));
        this.run1d(stridedCopyKernel, [this.buf(x), this.buf(y)], u, x.size);
      }
      at += x.shape[axis]!;
    }
    return y;
  }
  transpose(x: Tensor, perm: readonly number[]): Tensor {
    const st = stridesOf(x.shape);
    return this.copyStrided(x, perm.map((p) => x.shape[p]!), perm.map((p) => st[p]!), 0);
  }
  flip(x: Tensor, axis: number): Tensor {
    if (isHalf(x.dtype)) throw new Error(`webgpu: ${x.dtype} weights cannot be flipped`);
    const y = this.make(x.shape, x.dtype);
    const dim = x.shape[axis]!;
    const inner = sizeOf(x.shape.slice(axis + 1));
    if (y.size) this.run1d(flipKernel, [this.buf(x), this.buf(y)], new Uniforms(12).u32(y.size, dim, inner), y.size);
    return y;
  }

  writeSlice(dst: Tensor, src: Tensor, axis: number, start: number): void {
    const ds = stridesOf(dst.shape);
    if (dst.shape.slice(0, axis).every((n) => n === 1)) {
      // The slice is one contiguous range of dst (e.g. a batch-1 KV cache, or a column of a
      // one-row table): a buffer copy, no kernel.
      this.ctx.copy(this.buf(src), 0, this.buf(dst), start * ds[axis]! * 4, src.size * 4);
      return;
    }
    const u = new Uniforms(112).u32(src.size, src.rank, 0, start * ds[axis]!).u32(...vec8(src.shape)).u32(...vec8(stridesOf(src.shape))).u32(...vec8(ds));
    this.run1d(stridedCopyKernel, [this.buf(src), this.buf(dst)], u, src.size);
  }

  // ---- rows
  private rowLaunch(k: Kernel, bufs: GPUBuffer[], rows: number, n: number, eps = 0): void {
    const gx = Math.min(rows, 65535);
    this.ctx.dispatch(k, bufs, new Uniforms(16).u32(rows, n, gx).f32(eps).buffer, [gx, Math.ceil(rows / gx)]);
  }
  private rowsOf(x: Tensor): { rows: number; n: number; lead: number[] } {
    const n = x.shape[x.rank - 1]!;
    return { n, rows: x.size / n, lead: x.shape.slice(0, -1) };
  }
  sumLastAxis(x: Tensor): Tensor {
    const { rows, n, lead } = this.rowsOf(x);
    const y = this.make(lead);
    this.rowLaunch(rowSumKernel, [this.buf(x), this.buf(y)], rows, n);
    return y;
  }
  maxLastAxis(x: Tensor): Tensor {
    const { rows, n, lead } = this.rowsOf(x);
    const y = this.make(lead);
    this.rowLaunch(rowMaxKernel, [this.buf(x), this.buf(y)], rows, n);
    return y;
  }
  softmax(x: Tensor): Tensor {
    const { rows, n } = this.rowsOf(x);
    const y = this.make(x.shape);
    this.rowLaunch(softmaxKernel, [this.buf(x), this.buf(y)], rows, n);
    return y;
  }
  argmax(x: Tensor): Tensor {
    const { rows, n, lead } = this.rowsOf(x);
    const y = this.make(lead, 'i32');
    if (n <= 2 * ARGMAX_CHUNK) {
      this.rowLaunch(argmaxKernel, [this.buf(x), this.buf(y)], rows, n);
      return y;
    }
    // Long rows: one workgroup per row would leave the GPU idle; split each row first.
    const G = Math.ceil(n / ARGMAX_CHUNK);
    const pv = this.make([rows, G]);
    const pi = this.make([rows, G], 'i32');
    const groups = rows * G;
    const gx = Math.min(groups, 65535);
    this.ctx.dispatch(argmaxPartialKernel, [this.buf(x), this.buf(pv), this.buf(pi)], new Uniforms(16).u32(rows, n, G, gx).buffer, [gx, Math.ceil(groups / gx)]);
    this.ctx.dispatch(argmaxFinalKernel, [this.buf(pv), this.buf(pi), this.buf(y)], new Uniforms(8).u32(rows, G).buffer, [Math.ceil(rows / 64)]);
    pv.dispose();
    pi.dispose();
    return y;
  }
  topK(x: Tensor, k: number): { values: Tensor; indices: Tensor } {
    const { rows, n, lead } = this.rowsOf(x);
    const values = this.make([...lead, k]);
    const indices = this.make([...lead, k], 'i32');
    this.ctx.dispatch(topKKernel, [this.buf(x), this.buf(values), this.buf(indices)], new Uniforms(12).u32(rows, n, k).buffer, [Math.ceil(rows / 64)]);
    return { values, indices };
  }

  /**
   * One workgroup per row (kernels/sample-tokens.ts); rngState advances in place. Per-row warpers
   * are read from their table (a buffer), so the uniforms and the pipeline do not depend on them.
   */
  sampleTokens(logits: Tensor, rngState: Tensor, o: SampleTokensScalars | SampleTokensPerRow): Tensor {
    const [B, V] = logits.shape as [number, number];
    const y = this.make([B, 1], 'i32');
    const gx = Math.min(B, 65535);
    const buffers = [this.buf(logits), this.buf(rngState), this.buf(y)];
    const u = new Uniforms(32).u32(B, V, gx);
    if ('table' in o) {
      u.u32(0).f32(1, 1, 0, 0); // unused: each row's warpers come from the table
      buffers.push(this.buf(o.table));
    } else {
      // 1 − top_p rounded to float32 as torch compares it (and logits-process.ts).
      u.u32(Math.min(o.topK, 0xffffffff)).f32(o.temperature, o.topP, Math.fround(1 - o.topP), o.minP);
    }
    this.ctx.dispatch(sampleTokensKernel('table' in o), buffers, u.buffer, [gx, Math.ceil(B / gx)]);
    return y;
  }

  // ---- layers
  rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
    const { rows, n } = this.rowsOf(x);
    const y = this.make(x.shape);
    this.rowLaunch(rmsNormKernel, [this.buf(x), this.buf(weight), this.buf(y)], rows, n, eps);
    return y;
  }
  crossEntropy(logits: Tensor, labels: Tensor, ignoreIndex: number): Tensor {
    const { rows, n } = this.rowsOf(logits);
    const y = this.make([rows]);
    const gx = Math.min(rows, 65535);
    this.ctx.dispatch(crossEntropyKernel, [this.buf(logits), this.buf(labels), this.buf(y)], new Uniforms(16).u32(rows, n, gx).i32(ignoreIndex).buffer, [gx, Math.ceil(rows / gx)]);
    return y;
  }
  crossEntropyBackward(logits: Tensor, labels: Tensor, ignoreIndex: number, g: Tensor): Tensor {
    const { rows, n } = this.rowsOf(logits);
    const dx = this.make(logits.shape);
    const gx = Math.min(rows, 65535);
    this.ctx.dispatch(crossEntropyBackwardKernel, [this.buf(logits), this.buf(labels), this.buf(g), this.buf(dx)], new Uniforms(16).u32(rows, n, gx).i32(ignoreIndex).buffer, [gx, Math.ceil(rows / gx)]);
    return dx;
  }
  embedding(ids: Tensor, table: Tensor): Tensor {
    const H = table.shape[1]!;
    const y = this.make([...ids.shape, H]);
    this.run1d(embeddingKernel(weightDType(table.dtype)), [this.buf(ids), this.buf(table), this.buf(y)], new Uniforms(12).u32(y.size, H, table.shape[0]!), y.size);
    return y;
  }
  scatterAddRows(src: Tensor, order: Tensor, offsets: Tensor): Tensor {
    const H = src.shape[1]!;
    const y = this.make([offsets.size - 1, H]);
    this.run1d(scatterAddRowsKernel, [this.buf(src), this.buf(order), this.buf(offsets), this.buf(y)], new Uniforms(8).u32(y.size, H), y.size);
    return y;
  }
  causalConv1d(x: Tensor, weight: Tensor, bias: Tensor | null, state: Tensor | null, o: ConvOptions) {
    const [B, L, D] = x.shape as [number, number, number];
    const K = weight.shape[1]!;
    const out = this.make(x.shape);
    const st = this.make([B, D, K - 1]);
    const n = out.size + st.size;
    const u = new Uniforms(36).u32(B, L, D, K, bias ? 1 : 0, state ? 1 : 0, o.silu ? 1 : 0, out.size, st.size);
    this.run1d(causalConvKernel, [this.buf(x), this.buf(weight), this.buf(bias), this.buf(state), this.buf(out), this.buf(st)], u, n);
    return { out, state: st };
  }
  embeddingBackward(ids: Tensor, gOut: Tensor, V: number): Tensor {
    const H = gOut.shape[gOut.rank - 1]!;
    const d = this.make([V, H]);
    const positions = ids.size;
    const hBlocks = Math.ceil(H / EMB_BWD_H);
    // Deterministic (fixed summation order) where its reads, every id once per (row, h block), stay
    // small: always for the small vocabularies of synthetic tasks; the atomic kernel elsewhere.
    if (positions && V <= 65535 && V * hBlocks * positions <= EMB_BWD_DETERMINISTIC_WORK) {
      // Slices of at least 256 positions, at most 65535 of them, their partial sums within 2^24 floats.
      const slices = Math.max(1, Math.min(Math.ceil(positions / 256), 65535, Math.floor(2 ** 24 / (V * H))));
      const perSlice = Math.ceil(positions / slices);
      const used = Math.ceil(positions / perSlice);
      const part = this.ctx.buffer(used * V * H * 4, 'embedding gradient partial sums');
      this.ctx.dispatch(embeddingBackwardSlicesKernel, [this.buf(ids), this.buf(gOut), part], new Uniforms(16).u32(positions, H, V, perSlice).buffer, [hBlocks, V, used]);
      this.run1d(embeddingBackwardSumKernel, [part, this.buf(d)], new Uniforms(8).u32(V * H, used), V * H);
      this.ctx.release(part);
      return d;
    }
    this.ctx.clear(this.buf(d), V * H * 4); // the kernel adds into it
    const n = ids.size * H;
    if (n) this.run1d(embeddingBackwardKernel, [this.buf(ids), this.buf(gOut), this.buf(d)], new Uniforms(12).u32(n, H, V), n);
    return d;
  }
  depthwiseConv2d(x: Tensor, weight: Tensor, bias: Tensor | null): Tensor {
    const [B, H, W, C] = x.shape as [number, number, number, number];
    const y = this.make(x.shape);
    const u = new Uniforms(28).u32(B, H, W, C, weight.shape[1]!, bias ? 1 : 0, y.size);
    if (y.size) this.run1d(depthwiseConv2dKernel, [this.buf(x), this.buf(weight), this.buf(bias), this.buf(y)], u, y.size);
    return y;
  }
  /** See kernels/depthwise-conv2d.ts: dx by a gather, dw and dbias by chunked partial sums. */
  depthwiseConv2dBackward(x: Tensor, weight: Tensor, bias: Tensor | null, gOut: Tensor) {
    const [B, H, W, C] = x.shape as [number, number, number, number];
    const K = weight.shape[1]!;
    const KK = K * K;
    const dx = this.make(x.shape);
    const dw = this.make(weight.shape);
    const dbias = bias ? this.make(bias.shape) : null;
    this.run1d(depthwiseConv2dDxKernel, [this.buf(gOut), this.buf(weight), this.buf(dx)], new Uniforms(24).u32(B, H, W, C, K, dx.size), dx.size);
    const rows = B * H * W;
    const Kb = KK + (bias ? 1 : 0);
    const chunk = Math.max(64, Math.ceil(rows / 1024));
    const chunks = Math.max(1, Math.ceil(rows / chunk));
    const part = this.make([chunks, Kb, C]);
    const up = new Uniforms(32).u32(B, H, W, C, K, Kb, rows, chunk);
    this.ctx.dispatch(depthwiseConv2dDwPartialKernel, [this.buf(x), this.buf(gOut), this.buf(part)], up.buffer, [Math.ceil(C / DWCONV2D_DW_WG), chunks, Kb]);
    // The causal conv's final step sums (chunks, Kb, C) partials into (C, KK) and (C): the same layout.
    const uf = new Uniforms(20).u32(C, KK, Kb, chunks, Kb * C);
    this.run1d(convDwFinalKernel, [this.buf(part), this.buf(dw), this.buf(dbias)], uf, Kb * C);
    part.dispose();
    return { dx, dw, dbias };
  }
  /** See kernels/conv-backward.ts for the four steps. */
  causalConv1dBackward(x: Tensor, weight: Tensor, bias: Tensor | null, state: Tensor | null, o: ConvOptions, gOut: Tensor, gState: Tensor | null) {
    const [B, L, D] = x.shape as [number, number, number];
    const K = weight.shape[1]!;
    const S = K - 1;
    const rows = B * L;
    const hb = bias ? 1 : 0;
    const hs = state ? 1 : 0;
    const dx = this.make(x.shape);
    const dw = this.make(weight.shape);
    const dbias = bias ? this.make(bias.shape) : null;
    const dstate = state ? this.make([B, D, S]) : null;
    // Without silu, dpre is the output gradient itself.
    const dpre = o.silu ? this.make(x.shape) : null;
    if (dpre) {
      const u = new Uniforms(28).u32(B, L, D, K, hb, hs, dpre.size);
      this.run1d(convDpreKernel, [this.buf(x), this.buf(weight), this.buf(bias), this.buf(state), this.buf(gOut), this.buf(dpre)], u, dpre.size);
    }
    const dp = this.buf(dpre ?? gOut);
    const nx = B * (S + L) * D;
    const ux = new Uniforms(28).u32(B, L, D, K, hs, gState ? 1 : 0, nx);
    // Not the shared dummy: it may already be bound read-only (gState), and a dispatch may not
    // bind one buffer both ways. The kernel never writes it without a state.
    const noState = dstate ? null : this.make([1]);
    this.run1d(convDxKernel, [dp, this.buf(weight), this.buf(gState), this.buf(dx), this.buf(dstate ?? noState)], ux, nx);
    noState?.dispose();
    // dw and dbias: per-chunk partial sums over the (b, t) rows, at most 1024 chunks, then their sum.
    const Kb = K + hb;
    const chunk = Math.max(64, Math.ceil(rows / 1024));
    const chunks = Math.max(1, Math.ceil(rows / chunk));
    const part = this.make([chunks, Kb, D]);
    const up = new Uniforms(32).u32(B, L, D, K, hs, Kb, rows, chunk);
    this.ctx.dispatch(convDwPartialKernel, [this.buf(x), this.buf(state), dp, this.buf(part)], up.buffer, [Math.ceil(D / CONV_DW_WG), chunks, Kb]);
    const uf = new Uniforms(20).u32(D, K, Kb, chunks, Kb * D);
    this.run1d(convDwFinalKernel, [this.buf(part), this.buf(dw), this.buf(dbias)], uf, Kb * D);
    part.dispose();
    dpre?.dispose();
    return { dx, dw, dbias, dstate };
  }

  /**
   * Chunk length. Longer chunks shorten the sequential carry; shorter ones give more threads. On
   * the H200 (npm run bench:gpu with MAMBA_TS_SCAN_CHUNK = 16…128), 32 was best for B·L·D ≈ 3M and
   * 64 for every larger anchor shape. MAMBA_TS_SCAN_CHUNK overrides it, for benchmarking.
   */
  private scanChunk(B: number, L: number, D: number): number {
    const forced = Number(envSwitch('MAMBA_TS_SCAN_CHUNK'));
    if (forced > 0) return forced;
    const n = B * L * D;
    return n < 1 << 18 ? 16 : n < 1 << 22 ? 32 : 64;
  }

  /**
   * The packed per-channel SSM parameters [A (D, N) | D (D) | Δ bias (D)] (zeros where absent), so
   * that the scan kernels stay within 8 storage bindings.
   */
  private ssmParams(A: Tensor, D: Tensor | null, bias: Tensor | null): GPUBuffer {
    const dim = A.shape[0]!;
    const packed = this.packed([A, D ?? dim, bias ?? dim]);
    if (!packed) throw new UnsupportedError('webgpu: the scan needs A, D and the Δ bias in float32');
    return packed;
  }

  /**
   * f32 tensors (a number: that many zeros, for an absent one) concatenated in one buffer, for
   * kernels that would otherwise bind more than 8 storage buffers. Packed once per parameter set:
   * the cache is keyed by the tensors' storage (never reused; a reshaped view of a parameter, made
   * anew every step, hits the same entry) and drops entries whose storage was released. Null when
   * a tensor is not f32.
   */
  private packed(parts: (Tensor | number)[]): GPUBuffer | null {
    const tensors = parts.filter((p): p is Tensor => typeof p !== 'number');
    if (tensors.some((t) => t.dtype !== 'f32')) return null;
    const key = parts.map((p) => (typeof p === 'number' ? `z${p}` : `${p.ref.id}+${p.size}`)).join(':');
    const hit = this.packedParams.get(key);
    if (hit && !hit.sources.some((r) => r.released)) return hit.buffer;
    if (hit) this.dropPacked(key);
    const sizes = parts.map((p) => (typeof p === 'number' ? p : p.size));
    const bytes = sizes.reduce((a, b) => a + b, 0) * 4;
    const buffer = this.ctx.buffer(bytes, 'packed parameters');
    this.packsMade++;
    this.ctx.clear(buffer, bytes);
    let at = 0;
    parts.forEach((p, k) => {
      if (typeof p !== 'number' && p.size) this.ctx.copy(this.buf(p), 0, buffer, at, p.size * 4);
      at += sizes[k]! * 4;
    });
    // Drop packs whose parameters are gone (e.g. replaced by training updates) before adding one.
    for (const [k, e] of this.packedParams) if (e.sources.some((r) => r.released)) this.dropPacked(k);
    this.packedParams.set(key, { buffer, sources: tensors.map((t) => t.ref) });
    return buffer;
  }
  contentsChanged(ts: readonly Tensor[]): void {
    const refs = new Set(ts.map((t) => t.ref));
    for (const [key, e] of this.packedParams) if (e.sources.some((r) => refs.has(r))) this.dropPacked(key);
  }
  private packsToGraph(graph: LaunchGraph, before: Set<string>): void {
    for (const [key, e] of this.packedParams) {
      if (before.has(key) || !e.sources.some((r) => r.released)) continue;
      this.packedParams.delete(key);
      graph.held.push(e.buffer);
    }
  }
  private disposeGraphWithPacks(graph: LaunchGraph, before: Set<string>): void {
    this.packsToGraph(graph, before);
    this.ctx.disposeGraph(graph);
  }
  private dropPacked(key: string): void {
    const e = this.packedParams.get(key);
    if (!e) return;
    this.packedParams.delete(key);
    this.ctx.release(e.buffer);
  }

  selectiveScan(i: ScanInputs, o: ScanOptions): { out: Tensor; lastState: Tensor } {
    const [B, L, D] = i.u.shape as [number, number, number];
    const N = i.A.shape[1]!;
    const T = this.scanChunk(B, L, D);
    const nC = Math.max(1, Math.ceil(L / T));
    const out = this.make(i.u.shape);
    const last = this.make([B, D, N]);
    const flags = (hasH0: boolean, h0Chunks: number) =>
      new Uniforms(36).u32(B, L, D, T, nC, i.z ? 1 : 0, hasH0 ? 1 : 0, o.deltaSoftplus ? 1 : 0, h0Chunks).buffer;
    const groups: [number, number, number] = [Math.ceil(D / SCAN_WG), nC, B];
    const sp = this.ssmParams(i.A, i.D, i.deltaBias);
    const [u, delta, Bm, Cm, z] = [i.u, i.delta, i.B, i.C, i.z].map((t) => this.buf(t)) as GPUBuffer[];
    const outputs = (hs: GPUBuffer, hasH0: boolean, h0Chunks: number) =>
      this.ctx.dispatch(scanOutputKernel(N), [u!, delta!, sp, Bm!, Cm!, z!, hs, this.buf(out)], flags(hasH0, h0Chunks), groups);
    if (nC === 1) {
      // The kernel starts from the last-state buffer and leaves the final state there.
      if (i.initialState) this.ctx.copy(this.buf(i.initialState), 0, this.buf(last), 0, B * D * N * 4);
      outputs(this.buf(last), !!i.initialState, 1);
      return { out, lastState: last };
    }
    const hEnd = this.make([B, nC, D, N]);
    const dSum = this.make([B, nC, D]);
    const H = this.make([B, nC + 1, D, N]); // chunk-boundary states (a backward pass would keep them)
    const f = flags(!!i.initialState, 1);
    this.ctx.dispatch(scanChunkStateKernel(N), [u!, delta!, sp, Bm!, this.buf(hEnd), this.buf(dSum)], f, groups);
    this.ctx.dispatch(scanCarryKernel(N), [sp, this.buf(dSum), this.buf(hEnd), this.buf(i.initialState), this.buf(H), this.buf(last)], f, grid1d(B * D * N));
    outputs(this.buf(H), true, nC + 1);
    for (const t of [hEnd, dSum, H]) t.dispose();
    return { out, lastState: last };
  }

  /**
   * The scan's fused backward (kernels/scan-backward.ts): recompute the chunk-boundary states with
   * the forward's kernels, carry the state gradient back over chunks, then one pass per chunk that
   * recomputes its states and writes the gradients (partial sums reduced by two small kernels).
   */
  selectiveScanBackward(i: ScanInputs, o: ScanOptions, gOut: Tensor, gLast: Tensor | null): ScanGradients {
    const [B, L, D] = i.u.shape as [number, number, number];
    const N = i.A.shape[1]!;
    if (N > 256) throw new UnsupportedError(`webgpu: the scan backward supports at most 256 states (got ${N})`);
    // The chunk sizes the private array of recomputed states in the gradient kernel: at most 32
    // (on the H200, 32 beat 64 on the three shapes timed, probably from register pressure).
    const T = Math.min(32, this.scanChunk(B, L, D));
    const nC = Math.max(1, Math.ceil(L / T));
    const { dk, sub } = scanBackwardLayout(N);
    const nDG = Math.ceil(D / (dk * sub)); // channel groups of the gradient kernel
    const [BLD, BLN] = [B * L * D, B * L * N];
    const sp = this.ssmParams(i.A, i.D, i.deltaBias);
    // Packed inputs, so that the gradient kernel stays within 8 storage bindings.
    const inp = this.make([i.z ? 4 : 3, BLD]);
    [i.u, i.delta, gOut, i.z].forEach((t, k) => t && this.ctx.copy(this.buf(t), 0, this.buf(inp), k * BLD * 4, BLD * 4));
    const bc = this.make([2, BLN]);
    this.ctx.copy(this.buf(i.B), 0, this.buf(bc), 0, BLN * 4);
    this.ctx.copy(this.buf(i.C), 0, this.buf(bc), BLN * 4, BLN * 4);
    // Forward recompute: H (B, nC+1, D, N) into the first half of hh.
    const hh = this.make([2, B, nC + 1, D, N]);
    const hEnd = this.make([B, nC, D, N]); // the chunks' end states, then their local dh
    const dSum = this.make([B, nC, D]);
    const last = this.make([B, D, N]);
    const fwd = new Uniforms(36).u32(B, L, D, T, nC, i.z ? 1 : 0, i.initialState ? 1 : 0, o.deltaSoftplus ? 1 : 0, 1).buffer;
    const chunkGroups: [number, number, number] = [Math.ceil(D / SCAN_WG), nC, B];
    this.ctx.dispatch(scanChunkStateKernel(N), [this.buf(i.u), this.buf(i.delta), sp, this.buf(i.B), this.buf(hEnd), this.buf(dSum)], fwd, chunkGroups);
    this.ctx.dispatch(scanCarryKernel(N), [sp, this.buf(dSum), this.buf(hEnd), this.buf(i.initialState), this.buf(hh), this.buf(last)], fwd, grid1d(B * D * N));
    // Backward.
    const q = new Uniforms(36).u32(B, L, D, T, nC, nDG, i.z ? 1 : 0, o.deltaSoftplus ? 1 : 0, gLast ? 1 : 0).buffer;
    this.ctx.dispatch(scanLocalDhKernel(N), [this.buf(inp), sp, this.buf(bc), this.buf(hEnd)], q, [Math.ceil(D / SCAN_BWD_WG), nC, B]);
    const dh0 = this.make([B, D, N]);
    this.ctx.dispatch(scanReverseCarryKernel(N), [sp, this.buf(dSum), this.buf(hEnd), this.buf(gLast), this.buf(hh), this.buf(dh0)], q, grid1d(B * D * N));
    const du = this.make(i.u.shape);
    const ddelta = this.make(i.delta.shape);
    const dz = i.z ? this.make(i.z.shape) : null;
    const part = this.make([2 * BLN * nDG + B * nC * D * N + 2 * B * nC * D]);
    this.ctx.dispatch(scanGradKernel(N, T), [this.buf(inp), sp, this.buf(bc), this.buf(hh), this.buf(du), this.buf(ddelta), this.buf(dz), this.buf(part)], q, [nDG, nC, B]);
    const r = new Uniforms(24).u32(B, L, D, N, nC, nDG).buffer;
    const sums = this.make([D * N + 2 * D]);
    this.ctx.dispatch(scanReduceParamsKernel, [this.buf(part), this.buf(sums)], r, grid1d(D * N + 2 * D));
    const dB = this.make(i.B.shape);
    const dC = this.make(i.C.shape);
    this.ctx.dispatch(scanReduceBCKernel, [this.buf(part), this.buf(dB), this.buf(dC)], r, grid1d(2 * BLN));
    const dA = this.make(i.A.shape);
    this.ctx.copy(this.buf(sums), 0, this.buf(dA), 0, D * N * 4);
    const slice = (t: Tensor | null, at: number): Tensor | null => {
      if (!t) return null;
      const y = this.make(t.shape);
      this.ctx.copy(this.buf(sums), at * 4, this.buf(y), 0, D * 4);
      return y;
    };
    const dD = slice(i.D, D * N);
    const ddeltaBias = slice(i.deltaBias, D * N + D);
    for (const t of [inp, bc, hh, hEnd, dSum, last, part, sums]) t.dispose();
    let dInitialState: Tensor | null = dh0;
    if (!i.initialState) {
      dh0.dispose();
      dInitialState = null;
    }
    return { du, ddelta, dA, dB, dC, dD, dz, ddeltaBias, dInitialState };
  }

  rope(x: Tensor, positions: Tensor, invFreq: Tensor, inverse: boolean): Tensor {
    const y = this.make(x.shape);
    const half = invFreq.size;
    const n = x.size / 2;
    if (n) this.run1d(ropeKernel, [this.buf(x), this.buf(positions), this.buf(invFreq), this.buf(y)], new Uniforms(16).u32(n, x.shape[2]!, half, inverse ? 1 : 0), n);
    return y;
  }
  /**
   * Fused attention (kernels/attention.ts): the split-K decode kernel for one query, the flash
   * kernel otherwise (or when the group's queries do not fit the decode kernel's workgroup memory).
   */
  attention(i: AttentionInputs): Tensor {
    const [B, Lq, H, hd] = i.q.shape as [number, number, number, number];
    const [, Hkv, cap] = i.k.shape as [number, number, number, number];
    const G = H / Hkv;
    const Lk = i.keyLength;
    const out = this.make(i.q.shape);
    const { maxComputeWorkgroupStorageSize: smem, maxComputeInvocationsPerWorkgroup: maxThreads } = this.device.limits;
    const scale = 1 / Math.sqrt(hd);
    const hasMask = i.keyMask ? 1 : 0;
    const T = Lq === 1 ? decodeTile(hd, G, smem) : null;
    if (T !== null && B * Hkv <= 65535) {
      this.decodeAttention(i.q, i.k, i.v, i.keyMask, null, Lk, T, out);
      return out;
    }
    const tiles = flashTiles(hd, smem, maxThreads);
    if (!tiles) {
      throw new UnsupportedError(`webgpu: attention with head_dim ${hd} does not fit this adapter's ${smem} bytes of workgroup memory; use the CPU`);
    }
    const rowTiles = Math.ceil((Lq * G) / tiles.BR);
    if (rowTiles > 65535 || B * Hkv > 65535) {
      throw new UnsupportedError(`webgpu: attention over ${Lq} queries × ${G} heads per KV head and ${B * Hkv} (batch · KV heads) exceeds the dispatch limit`);
    }
    const u = new Uniforms(32).u32(Lq, H, Hkv, G, cap, Lk, hasMask).f32(scale);
    this.ctx.dispatch(flashAttentionKernel(hd, tiles), [this.buf(i.q), this.buf(i.k), this.buf(i.v), this.buf(i.keyMask), this.buf(out)], u.buffer, [rowTiles, B * Hkv]);
    return out;
  }

  /**
   * The split-K decode attention (one query per row). The splits follow the cache's capacity, not
   * its filled length, so that a step whose length is read on the device (`length`: then Lk =
   * length[0] + lk) launches exactly what the same step with the length in its uniforms does, and
   * both give the same numbers; splits past the filled keys see no key and add nothing.
   */
  private decodeAttention(q: Tensor, k: Tensor, v: Tensor, keyMask: Tensor | null, length: Tensor | null, lk: number, T: number, out: Tensor): void {
    const [B, , H, hd] = q.shape as [number, number, number, number];
    const [, Hkv, cap] = k.shape as [number, number, number, number];
    const G = H / Hkv;
    // Enough splits that a step fills the GPU, each a whole number of tiles: about 1024 workgroups
    // over the capacity, so about 512 or more over the filled keys (a KV cache is mostly more than
    // half full: it doubles when full); the splits past them see no key and finish at once.
    const want = Math.min(Math.ceil(cap / T), Math.max(1, Math.ceil(1024 / (B * Hkv))));
    const chunk = Math.ceil(cap / want / T) * T;
    const nSplit = Math.ceil(cap / chunk);
    const acc = this.ctx.buffer(B * H * nSplit * hd * 4, 'attention decode partial sums');
    const ml = this.ctx.buffer(B * H * nSplit * 2 * 4, 'attention decode partial maxima');
    const u = new Uniforms(32).u32(H, Hkv, cap, lk, chunk, nSplit, keyMask ? 1 : 0).f32(1 / Math.sqrt(hd));
    const inputs = [this.buf(q), this.buf(k), this.buf(v), this.buf(keyMask), ...(length ? [this.buf(length)] : [])];
    this.ctx.dispatch(decodeAttentionKernel(hd, G, T, !!length), [...inputs, acc, ml], u.buffer, [nSplit, B * Hkv]);
    const n = B * H * hd;
    this.ctx.dispatch(decodeCombineKernel, [acc, ml, this.buf(out)], new Uniforms(12).u32(B * H, hd, nSplit).buffer, [Math.ceil(n / DECODE_WG)]);
    this.ctx.release(acc);
    this.ctx.release(ml);
  }

  attentionAtFits(batch: number, heads: number, kvHeads: number, headDim: number): boolean {
    return decodeTile(headDim, heads / kvHeads, this.device.limits.maxComputeWorkgroupStorageSize) !== null && batch * kvHeads <= 65535;
  }

  attentionAt(i: AttentionAtInputs): Tensor {
    const [B, , H, hd] = i.q.shape as [number, number, number, number];
    const Hkv = i.k.shape[1]!;
    const T = decodeTile(hd, H / Hkv, this.device.limits.maxComputeWorkgroupStorageSize);
    if (T === null || B * Hkv > 65535) {
      throw new UnsupportedError(`webgpu: decode attention with head_dim ${hd}, ${H / Hkv} query heads per KV head and ${B * Hkv} (batch · KV heads) does not fit this adapter`);
    }
    const out = this.make(i.q.shape);
    this.decodeAttention(i.q, i.k, i.v, i.keyMask, i.length, 1, T, out);
    return out;
  }

  appendKvAt(kCache: Tensor, vCache: Tensor, k: Tensor, v: Tensor, length: Tensor): void {
    const [, , cap, hd] = kCache.shape as [number, number, number, number];
    const n = k.size;
    this.ctx.dispatch(kvAppendAtKernel, [this.buf(k), this.buf(v), this.buf(length), this.buf(kCache), this.buf(vCache)], new Uniforms(12).u32(n, hd, cap).buffer, [Math.ceil(n / 128)]);
  }

  stack(xs: readonly Tensor[]): Tensor | null {
    const first = xs[0]!;
    const each = storageBytes(first.dtype, first.size);
    // Byte copies: a half tensor's elements must fill whole 32-bit words.
    if (each % 4 !== 0 || each * xs.length > this.ctx.maxBinding) return null;
    const shape = [xs.length, ...first.shape];
    const s = this.newStorage(sizeOf(shape), `a stack of ${xs.length} tensors of shape [${first.shape.join(', ')}]`, first.dtype);
    xs.forEach((x, j) => this.ctx.copy(this.buf(x), 0, s.buffer, j * each, each));
    return new Tensor(shape, first.dtype, new StorageRef(this, s));
  }

  moeStep(i: MoeStepInputs): Tensor | null {
    const [T, H] = i.x.shape as [number, number];
    const k = i.indices.shape[1]!;
    const [n, F] = i.gate.shape as [number, number, number];
    const S = T * k;
    if (i.up.dtype !== i.gate.dtype || k > MOE_MAX_SLOTS) return null;
    const a = this.ctx.buffer(S * F * 4, 'MoE step activations');
    const y = this.ctx.buffer(S * H * 4, 'MoE step expert outputs');
    const idx = this.buf(i.indices);
    // Whole tokens per launch, at most MOE_MAX_SLOTS slots each (one launch up to 512 tokens at k = 2).
    const per = Math.floor(MOE_MAX_SLOTS / k) * k;
    for (let s0 = 0; s0 < S; s0 += per) {
      const u = (R: number, K: number) => new Uniforms(20).u32(Math.min(per, S - s0), k, R, K, s0).buffer;
      this.ctx.dispatch(moeRowsKernel('gateUp', weightDType(i.gate.dtype)), [this.buf(i.x), idx, this.buf(i.gate), this.buf(i.up), a], u(F, H), moeRowsGrid(F, n));
      this.ctx.dispatch(moeRowsKernel('down', weightDType(i.down.dtype)), [a, idx, this.buf(i.down), y], u(H, F), moeRowsGrid(H, n));
    }
    const out = this.make([T, H]);
    this.ctx.dispatch(moeCombineKernel, [y, this.buf(i.weights), this.buf(i.residual), this.buf(out)], new Uniforms(12).u32(T * H, k, H).buffer, grid1d(T * H));
    this.ctx.release(a);
    this.ctx.release(y);
    return out;
  }

  selectiveStateUpdate(i: StateUpdateInputs, o: ScanOptions): { out: Tensor; state: Tensor } {
    const [B, D, N] = i.state.shape as [number, number, number];
    const out = this.make([B, D]);
    // The kernel updates its state buffer in place: a copy of the old state, or (inPlace) the old state itself.
    const st = i.inPlace ? i.state : this.make(i.state.shape);
    if (!i.inPlace) this.ctx.copy(this.buf(i.state), 0, this.buf(st), 0, B * D * N * 4);
    const u = new Uniforms(16).u32(B, D, i.z ? 1 : 0, o.deltaSoftplus ? 1 : 0);
    const sp = this.ssmParams(i.A, i.D, i.dtBias);
    const bufs = [i.x, i.dt].map((t) => this.buf(t));
    this.ctx.dispatch(stateUpdateKernel(N), [...bufs, sp, this.buf(i.B), this.buf(i.C), this.buf(i.z), this.buf(out), this.buf(st)], u.buffer, [Math.ceil((B * D) / 64)]);
    return { out, state: st };
  }

  /**
   * weight (N, H) · RMSNorm(x) for a decode batch: through batch-linear.ts's tiled kernel where
   * batchLinearFor picks it, else the vectorised gemv (B <= NORM_LINEAR_MAX_ROWS); null past both.
   */
  rmsNormLinear(x: Tensor, normWeight: Tensor, eps: number, w: Tensor): Tensor | null {
    const [B, K] = x.shape as [number, number];
    const N = w.shape[0]!;
    const tile = x.rank === 2 && x.dtype === 'f32' && normWeight.dtype === 'f32' ? batchLinearFor(B, N, K) : null;
    if (tile) {
      const y = this.make([B, N]);
      this.batchLinear(tile, 'norm', x, w, y, B, N, K, { extra: this.buf(normWeight), eps });
      return y;
    }
    if (x.rank !== 2 || B > NORM_LINEAR_MAX_ROWS || x.dtype !== 'f32' || normWeight.dtype !== 'f32') return null;
    const y = this.make([B, N]);
    const rb = rowBlocks(B);
    const grid = gemvGrid(N, K, rb);
    this.ctx.dispatch(
      normLinear4Kernel(rb, K, weightDType(w.dtype)),
      [this.buf(x), this.buf(w), this.dummy, this.buf(y), this.buf(normWeight)],
      new Uniforms(20).u32(N, grid[0]).f32(eps).u32(0, B).buffer,
      grid,
    );
    return y;
  }

  /**
   * y (B, N) = epilogue(x (B, K) · wᵀ) through the register-tiled batch kernel (batch-linear.ts):
   * `extra` is the residual (B, N) or the norm weight (K); `bias` a buffer read from element `at`.
   */
  private batchLinear(
    t: BatchTile,
    epi: BatchEpilogue,
    x: Tensor | GPUBuffer,
    w: Tensor,
    y: Tensor | GPUBuffer,
    B: number,
    N: number,
    K: number,
    o: { extra?: GPUBuffer; eps?: number; bias?: { buffer: GPUBuffer; at: number } | null } = {},
  ): void {
    const buf = (v: Tensor | GPUBuffer) => (v instanceof Tensor ? this.buf(v) : v);
    const bufs = [buf(x), this.buf(w), o.bias?.buffer ?? this.dummy, buf(y)];
    if (epi !== 'plain') bufs.push(o.extra!);
    this.ctx.dispatch(batchLinearKernel(t, K, weightDType(w.dtype), epi), bufs, batchLinearUniforms(N, B, o.bias ?? null, o.eps ?? 0), batchLinearGrid(t, B, N));
  }

  /**
   * y (B, N) = (residual +) x (B, K) · wᵀ (+ bias) as a split-K product and its epilogue
   * (batch-split-k.ts): the partial products in a pooled temporary, summed in slice order.
   */
  private splitLinear(product: 'x' | 'out', x: GPUBuffer, w: Tensor, y: GPUBuffer, B: number, N: number, K: number, residual: GPUBuffer | null, bias: GPUBuffer | null): void {
    const plan = splitKPlan(product, B, N, K);
    const part = this.ctx.buffer(plan.slices * B * N * 4, 'split-K partial products');
    this.ctx.dispatch(splitKProductKernel(plan.tile, K, plan.sliceK4, weightDType(w.dtype), false), [x, this.buf(w), part], splitKProductUniforms(N, B), plan.grid);
    this.ctx.dispatch(
      batchSplitKSumKernel(residual !== null),
      [part, bias ?? this.dummy, y, ...(residual ? [residual] : [])],
      splitKSumUniforms(N, B, plan.slices, bias ? { at: 0 } : null),
      splitKEpilogueGrid(B, N),
    );
    this.ctx.release(part);
  }

  /** Null where the flat buffers would pass the binding limit (then the per-parameter update runs). */
  createFusedAdamW(layout: FusedAdamWLayout): FusedAdamW | null {
    const total = layout.sizes.reduce((a, b) => a + b, 0);
    if (total * 4 > this.ctx.maxBinding) return null;
    return new GpuFusedAdamW(this, layout);
  }

  recordWork(fn: () => void): RecordedWork | null {
    const packsBefore = new Set(this.packedParams.keys());
    this.ctx.beginGraph();
    try {
      fn();
    } catch (e) {
      this.disposeGraphWithPacks(this.ctx.endGraph(), packsBefore);
      throw e;
    }
    const graph = this.ctx.endGraph();
    // Packs made while recording from the recording's temporaries (a training step packs its fresh
    // A = -exp(A_log) every step) are the graph's: its replays write and read them, so they leave
    // the cache, where a later drop would return them to the pool while the graph still uses them.
    this.packsToGraph(graph, packsBefore);
    if (graph.invalid) {
      this.ctx.disposeGraph(graph);
      return null;
    }
    return { replay: () => this.ctx.replay(graph), dispose: () => this.ctx.disposeGraph(graph) };
  }

  prepareMambaBlockStep(w: MambaBlockStepWeights): void {
    this.stepPacks(w);
  }

  /**
   * The fused step's packs of small parameters (f32 only: null where one is not, and the op-by-op
   * step runs): LP, the layer's [norm weight | in_proj bias | conv weight | conv bias]; SP, the SSM
   * parameters, followed by Jamba's inner norm weights where it has them.
   */
  private stepPacks(w: MambaBlockStepWeights): { lp: GPUBuffer | null; sp: GPUBuffer | null } {
    const E = w.convWeight.shape[0]!;
    const lp = this.packed([w.normWeight, w.inProjBias ?? 2 * E, w.convWeight, w.convBias ?? E]);
    const n = w.innerNorms;
    const sp = n ? this.packed([w.A, w.D, w.dtProjBias, n.dt, n.b, n.c]) : this.ssmParams(w.A, w.D, w.dtProjBias);
    return { lp, sp };
  }

  mambaBlockStep(i: MambaBlockStepInputs): { out: Tensor; convState: Tensor; ssmState: Tensor } | null {
    const [B, H] = i.h.shape as [number, number];
    const [E, K] = i.convWeight.shape as [number, number];
    const N = i.A.shape[1]!;
    const R = i.dtProj.shape[1]!;
    const J = R + 2 * N;
    if (B > GEMV4_MAX_ROWS || K < 2 || N > 256) return null;
    const { lp, sp } = this.stepPacks(i);
    if (!lp || !sp) return null;
    const norms = i.innerNorms;
    const variant: StepVariant = { innerNorms: !!norms, inPlace: !!i.inPlace };
    const slices = Math.ceil(E / gemv4PerGroup(H));
    const rb = rowBlocks(B);
    // The state update holds its block's x_proj rows in workgroup memory (with 256 floats more;
    // the inner norms add at most 256 + 3 per row).
    const normFloats = i.innerNorms ? 256 + 3 * rb.rows : 0;
    if ((rb.rows * J + 256 + normFloats) * 4 > this.device.limits.maxComputeWorkgroupStorageSize) return null;
    // Temporaries are bare pooled buffers: no tensor bookkeeping on this per-token path.
    const tmp = (n: number) => this.ctx.buffer(n * 4, 'a decode-step temporary');
    // xcd: the conv output (B, E), then (up to 4 rows) the partial x_proj sums (slices, B, J);
    // xdbl (blocked): x_proj's output (B, J).
    const [xz, xcd, y] = [tmp(B * 2 * E), tmp(B * E + (rb.blocked ? 0 : slices * B * J)), tmp(B * E)] as [GPUBuffer, GPUBuffer, GPUBuffer];
    const xdbl = rb.blocked ? tmp(B * J) : null;
    const convState = i.inPlace ? i.convState : (i.convStateOut ?? this.make([B, E, K - 1]));
    const ssmState = i.inPlace ? i.ssmState : (i.ssmStateOut ?? this.make([B, E, N]));
    const out = this.make([B, H]);
    // A blocked batch's products each run through the register-tiled kernel (batch-linear.ts) or
    // the gemv, whichever batchLinearFor picks for its shape (by default: in_proj tiled, x_proj
    // and out_proj on the gemv; MAMBA_TS_BATCH_IN_TILE may name in_proj's own tile).
    const inTile = rb.blocked ? batchInProjFor(B, 2 * E, H) : null;
    // MAMBA_TS_BATCH_SPLITK: a blocked batch's products split over K (batch-split-k.ts) instead.
    const split = rb.blocked ? splitKProducts() : new Set<string>();
    if (split.has('in')) {
      const plan = splitKPlan('in', B, 2 * E, H);
      const part = tmp(plan.slices * B * 2 * E);
      const sq = tmp(plan.slices * B);
      this.ctx.dispatch(splitKProductKernel(plan.tile, H, plan.sliceK4, weightDType(i.inProj.dtype), true), [this.buf(i.h), this.buf(i.inProj), part, lp, sq], splitKProductUniforms(2 * E, B), plan.grid);
      this.ctx.dispatch(
        splitKNormConvKernel(H, E, K, !!i.inPlace),
        [part, sq, lp, xz, this.buf(i.convState), ...(i.inPlace ? [] : [this.buf(convState)]), xcd],
        splitKNormConvUniforms(B, plan.slices, i.eps),
        splitKEpilogueGrid(B, 2 * E),
      );
      this.ctx.release(part);
      this.ctx.release(sq);
    } else if (inTile) {
      // norm + in_proj with the conv step as its epilogue.
      this.ctx.dispatch(
        batchNormInProjConvKernel(inTile, H, E, K, weightDType(i.inProj.dtype), !!i.inPlace),
        [this.buf(i.h), this.buf(i.inProj), lp, xz, this.buf(i.convState), ...(i.inPlace ? [] : [this.buf(convState)]), xcd],
        new Uniforms(12).u32(2 * E, B).f32(i.eps).buffer,
        batchLinearGrid(inTile, B, 2 * E),
      );
    } else {
      const inGrid = gemvGrid(2 * E, H, rb);
      this.ctx.dispatch(
        normInProjConvKernel(rb, H, E, J, K, weightDType(i.inProj.dtype), weightDType(i.xProj.dtype), variant),
        [this.buf(i.h), this.buf(i.inProj), lp, xz, this.buf(i.convState), ...(xdbl ? [] : [this.buf(i.xProj)]), ...(i.inPlace ? [] : [this.buf(convState)]), xcd],
        new Uniforms(12).u32(inGrid[0]).f32(i.eps).u32(B).buffer,
        inGrid,
      );
    }
    if (xdbl) {
      const xTile = batchLinearFor(B, J, E);
      if (split.has('x')) {
        this.splitLinear('x', xcd, i.xProj, xdbl, B, J, E, null, null);
      } else if (xTile) {
        this.batchLinear(xTile, 'plain', xcd, i.xProj, xdbl, B, J, E);
      } else {
        const grid = gemvGrid(J, E, rb);
        this.ctx.dispatch(linear4Kernel(rb, E, weightDType(i.xProj.dtype)), [xcd, this.buf(i.xProj), this.dummy, xdbl], new Uniforms(16).u32(J, grid[0], 0, B).buffer, grid);
      }
    }
    // A blocked batch's state update: v2 where it fits (MAMBA_TS_STEP_SSM=states|rows: the others).
    let layout = xdbl !== null ? ssmStepLayout() : 'states';
    if (layout === 'v2' && !dtSsmV2Fits(N, J, !!norms, this.device.limits.maxComputeWorkgroupStorageSize)) layout = 'states';
    const dtw = weightDType(i.dtProj.dtype);
    this.ctx.dispatch(
      layout === 'v2' ? dtSsmV2Kernel(N, J, dtw, variant) : layout === 'rows' ? dtSsmRowsKernel(rb, N, J, dtw, variant) : dtSsmUpdateKernel(rb, N, J, dtw, variant),
      [xcd, this.buf(i.dtProj), sp, xz, this.buf(i.ssmState), ...(i.inPlace ? [] : [this.buf(ssmState)]), y, ...(xdbl ? [xdbl] : [])],
      (norms ? new Uniforms(24).u32(E, R, J, slices, B).f32(norms.eps) : new Uniforms(20).u32(E, R, J, slices, B)).buffer,
      layout === 'v2' ? dtSsmV2Grid(E, B) : [Math.ceil(E / (layout === 'rows' ? 256 / rb.rows : ssmChannelsPerGroup(N))), rb.blocks],
    );
    const outTile = rb.blocked ? batchLinearFor(B, H, E) : null;
    if (split.has('out')) {
      this.splitLinear('out', y, i.outProj, this.buf(out), B, H, E, this.buf(i.h), i.outProjBias ? this.buf(i.outProjBias) : null);
    } else if (outTile) {
      this.batchLinear(outTile, 'residual', y, i.outProj, out, B, H, E, { extra: this.buf(i.h), bias: i.outProjBias ? { buffer: this.buf(i.outProjBias), at: 0 } : null });
    } else {
      const outGrid = gemvGrid(H, E, rb);
      this.ctx.dispatch(
        linearResidual4Kernel(rb, E, weightDType(i.outProj.dtype)),
        [y, this.buf(i.outProj), this.buf(i.outProjBias), this.buf(out), this.buf(i.h)],
        new Uniforms(16).u32(H, outGrid[0], i.outProjBias ? 1 : 0, B).buffer,
        outGrid,
      );
    }
    for (const b of [xz, xcd, y, ...(xdbl ? [xdbl] : [])]) this.ctx.release(b);
    return { out, convState, ssmState };
  }

  /**
   * A Mamba-2 layer's decode step in three launches (kernels/mamba2-step.ts), the states updated
   * in place; null where the kernels do not take the inputs (the op-by-op step runs instead).
   */
  mamba2BlockStep(i: Mamba2BlockStepInputs): Tensor | null {
    const [B, D] = i.h.shape as [number, number];
    const [CD, K] = i.convWeight.shape as [number, number];
    const [, NH, P, N] = i.ssmState.shape as [number, number, number, number];
    const d: Mamba2StepDims = { hidden: D, heads: NH, headDim: P, groups: i.groups, state: N, convKernel: K };
    const E = NH * P;
    const NP = projSize(d);
    const rb = rowBlocks(B);
    if (B > GEMV4_MAX_ROWS || K < 2 || N > 256 || rb.rows * i.groups > GATED_NORM_SEGMENTS) return null;
    if (i.gatedNormWeight.dtype !== 'f32') return null;
    // The small parameters in two buffers (f32 only: else the op-by-op step runs).
    const lp = this.packed([i.normWeight, i.inProjBias ?? NP, i.convWeight, i.convBias ?? CD]);
    const sp = this.packed([i.ALog, i.D, i.dtBias]);
    if (!lp || !sp) return null;
    // Temporaries are bare pooled buffers: no tensor bookkeeping on this per-token path.
    const zxd = this.ctx.buffer(B * NP * 4, 'a decode-step temporary');
    const y = this.ctx.buffer(B * E * 4, 'a decode-step temporary');
    const out = this.make([B, D]);
    // A blocked batch's norm + in_proj runs through the register-tiled kernel (batch-linear.ts,
    // the conv step as its epilogue) where batchInProjFor picks a tile for its shape, as Mamba-1's.
    const inTile = rb.blocked ? batchInProjFor(B, NP, D) : null;
    if (inTile) {
      this.ctx.dispatch(
        batchMamba2NormInProjConvKernel(inTile, D, E, CD, NH, K, weightDType(i.inProj.dtype)),
        [this.buf(i.h), this.buf(i.inProj), lp, zxd, this.buf(i.convState)],
        new Uniforms(12).u32(NP, B).f32(i.eps).buffer,
        batchLinearGrid(inTile, B, NP),
      );
    } else {
      const inGrid = gemvGrid(NP, D, rb);
      this.ctx.dispatch(
        mamba2NormInProjConvKernel(rb, d, weightDType(i.inProj.dtype)),
        [this.buf(i.h), this.buf(i.inProj), lp, zxd, this.buf(i.convState)],
        new Uniforms(12).u32(inGrid[0]).f32(i.eps).u32(B).buffer,
        inGrid,
      );
    }
    const [lo, hi] = i.dtLimit;
    this.ctx.dispatch(
      mamba2SsmStepKernel(rb, d),
      [zxd, sp, this.buf(i.ssmState), y],
      new Uniforms(12).u32(B).f32(lo, Number.isFinite(hi) ? hi : 3.4028234663852886e38).buffer,
      [Math.ceil(E / mamba2ChannelsPerGroup(N)), rb.blocks],
    );
    const outGrid = gemvGrid(D, E, rb);
    this.ctx.dispatch(
      mamba2GatedOutProjKernel(rb, d, weightDType(i.outProj.dtype)),
      [y, this.buf(i.outProj), this.buf(i.outProjBias), this.buf(out), this.buf(i.h), this.buf(i.gatedNormWeight)],
      new Uniforms(20).u32(D, outGrid[0], i.outProjBias ? 1 : 0, B).f32(i.gatedNormEps).buffer,
      outGrid,
    );
    this.ctx.release(zxd);
    this.ctx.release(y);
    return out;
  }

  /**
   * Mamba-2's chunked SSD forward in four or five launches (kernels/ssd.ts): within-chunk
   * cumulative decays, each chunk's own end state, the carry over chunks, (a group's scores C·Bᵀ
   * where several heads share it,) the outputs. Null where the
   * kernels do not take the inputs (the composed ops run instead).
   */
  ssdChunkedForward(i: SsdForwardInputs): SsdForwardResult | null {
    const [Bt, L, H, P] = i.x.shape as [number, number, number, number];
    const [, , G, N] = i.B.shape as [number, number, number, number];
    const all = [i.x, i.dt, i.A, i.B, i.C, i.D, i.initialState];
    if (all.some((t) => t && t.dtype !== 'f32')) return null;
    const T = i.chunk;
    const nC = Math.ceil(L / T);
    const maxGroups = this.device.limits.maxComputeWorkgroupsPerDimension;
    const statePB = Math.ceil(P / SSD_STATE_PB);
    const outPB = Math.ceil(P / SSD_OUT_PB);
    const stateGrid = statePB * Math.ceil(N / SSD_STATE_NB);
    const outGrid = Math.ceil(T / SSD_OUT_TR) * outPB;
    if (Bt * nC > maxGroups || H > maxGroups || stateGrid > maxGroups || outGrid > maxGroups) return null;
    if (i.keep && !this.ssdBackwardFits(i)) return null;
    const d: SsdDims = { Bt, L, H, P, G, N, T, nC };
    const u = (pBlocks: number) => new Uniforms(48).u32(...ssdUniformWords(d, !!i.initialState, !!i.D, pBlocks)).buffer;
    const cum = this.make([Bt, L, H]);
    const states = this.make([Bt, nC, H, P, N]); // each chunk's own end state, then the state entering it
    const out = this.make([Bt, L, H, P]);
    const last = this.make([Bt, H, P, N]);
    const [x, dt, A, B, C] = [i.x, i.dt, i.A, i.B, i.C].map((t) => this.buf(t)) as GPUBuffer[];
    // v2 (kernels/ssd-v2.ts) unless MAMBA_TS_SSD_FWD=v1 or its buffers do not fit (then v1).
    if (envSwitch('MAMBA_TS_SSD_FWD') !== 'v1' && this.ssdForwardV2(i, d, { cum, states, out, last })) {
      if (i.keep) return { out, lastState: last, kept: { cum, states } };
      cum.dispose();
      states.dispose();
      return { out, lastState: last };
    }
    this.ctx.dispatch(ssdCumsumKernel, [dt!, A!, this.buf(cum)], u(1), grid1d(Bt * nC * H));
    this.ctx.dispatch(ssdChunkStateKernel, [x!, dt!, this.buf(cum), B!, this.buf(states)], u(statePB), [stateGrid, H, Bt * nC]);
    this.ctx.dispatch(ssdCarryKernel, [this.buf(cum), this.buf(states), this.buf(i.initialState), this.buf(last)], u(1), grid1d(Bt * H * P * N));
    // Heads that share a group share its scores C·Bᵀ: computed once per group where the buffer of
    // them is not too large (H/G times less work in the output kernel), else per head there.
    const rowBlocks = Math.ceil(T / SSD_OUT_TR);
    const scoreBytes = Bt * nC * G * T * T * 4;
    const shared = H / G >= 2 && scoreBytes <= Math.min(SSD_SCORES_MAX_BYTES, this.device.limits.maxStorageBufferBindingSize) && rowBlocks * rowBlocks <= maxGroups;
    const scores = shared ? this.make([Bt, nC, G, T, T]) : null;
    if (scores) this.ctx.dispatch(ssdScoresKernel, [B!, C!, this.buf(scores)], u(rowBlocks), [rowBlocks * rowBlocks, G, Bt * nC]);
    this.ctx.dispatch(ssdOutputKernel(shared), [x!, dt!, this.buf(cum), scores ? this.buf(scores) : B!, C!, this.buf(states), this.buf(i.D), this.buf(out)], u(outPB), [outGrid, H, Bt * nC]);
    scores?.dispose();
    if (i.keep) return { out, lastState: last, kept: { cum, states } };
    cum.dispose();
    states.dispose();
    return { out, lastState: last };
  }

  /**
   * The register-tiled SSD forward (kernels/ssd-v2.ts, the default; MAMBA_TS_SSD_FWD=v1 runs v1's) into the buffers that
   * ssdChunkedForward made; false (nothing dispatched) where its per-group scores buffer passes
   * SSD_SCORES_MAX_BYTES or the binding limit, or a grid the device's, and v1 runs instead.
   */
  private ssdForwardV2(i: SsdForwardInputs, d: SsdDims, o: { cum: Tensor; states: Tensor; out: Tensor; last: Tensor }): boolean {
    const { Bt, H, P, G, N, T, nC } = d;
    const blocks = (n: number) => Math.ceil(n / SSD_V2_BLOCK);
    const maxGroups = this.device.limits.maxComputeWorkgroupsPerDimension;
    const scoreBytes = Bt * nC * G * T * T * 4;
    // v1's cap on the scores buffer too: past it v1 scores per head instead of allocating more.
    if (scoreBytes > Math.min(SSD_SCORES_MAX_BYTES, this.device.limits.maxStorageBufferBindingSize)) return false;
    if (blocks(T) ** 2 > maxGroups || blocks(T) * blocks(P) > maxGroups || blocks(P) * blocks(N) > maxGroups) return false;
    const u = (pBlocks: number) => new Uniforms(48).u32(...ssdUniformWords(d, !!i.initialState, !!i.D, pBlocks)).buffer;
    const [x, dt, A, B, C] = [i.x, i.dt, i.A, i.B, i.C].map((t) => this.buf(t));
    const scores = this.make([Bt, nC, G, T, T]);
    this.ctx.dispatch(ssdCumsumV2Kernel, [dt, A, this.buf(o.cum)], u(1), [H, Bt * nC]);
    this.ctx.dispatch(ssdChunkStateV2Kernel, [x, dt, this.buf(o.cum), B, this.buf(o.states)], u(blocks(P)), [blocks(P) * blocks(N), H, Bt * nC]);
    this.ctx.dispatch(ssdCarryKernel, [this.buf(o.cum), this.buf(o.states), this.buf(i.initialState), this.buf(o.last)], u(1), grid1d(Bt * H * P * N));
    // Step 4a: v2's kernel, or under MAMBA_TS_SSD_SCORES=k4|k2 (untimed) the 32 × 32 blocks with N
    // split over K groups (kernels/ssd-scores-split.ts) where its grid fits; the same output.
    const split = ssdScoresSplit();
    if (split && ssdScoresSplitBlocks(T) <= maxGroups) {
      this.ctx.dispatch(ssdScoresSplitKernel(split), [B, C, this.buf(scores)], u(0), [ssdScoresSplitBlocks(T), G, Bt * nC]);
    } else {
      this.ctx.dispatch(ssdScoresV2Kernel, [B, C, this.buf(scores)], u(blocks(T)), [blocks(T) ** 2, G, Bt * nC]);
    }
    this.ctx.dispatch(ssdOutputV2Kernel, [x, dt, this.buf(o.cum), this.buf(scores), C, this.buf(o.states), this.buf(i.D), this.buf(o.out)], u(blocks(P)), [blocks(T) * blocks(P), H, Bt * nC]);
    scores.dispose();
    return true;
  }

  /** Whether ssdChunkedBackward takes these inputs: its (…, T, T) buffers and grids within the limits. */
  private ssdBackwardFits(i: SsdForwardInputs): boolean {
    const [Bt, L, H] = i.x.shape as [number, number, number, number];
    const nC = Math.ceil(L / i.chunk);
    const rowBlocks = Math.ceil(i.chunk / SSD_OUT_TR);
    const maxGroups = this.device.limits.maxComputeWorkgroupsPerDimension;
    return Bt * nC * H * i.chunk * i.chunk * 4 <= this.device.limits.maxStorageBufferBindingSize && rowBlocks * rowBlocks <= maxGroups;
  }

  /**
   * The fused SSD's backward (kernels/ssd-backward.ts states the decomposition): the scores C·Bᵀ
   * and dy·xᵀ of each chunk, the state gradients carried back over the chunks, then dx, dC, dB,
   * ddt by rows, and dt·A's cumulative-sum gradients per chunk to ddt, dA and dD.
   */
  ssdChunkedBackward(i: SsdForwardInputs, saved: SsdSaved, gOut: Tensor, gLast: Tensor | null): SsdGradients {
    const { cum, states } = saved;
    if (!cum || !states) throw new Error('webgpu: ssdChunkedBackward needs the cumulative sums and chunk states its forward keeps');
    const kept = { ...saved, cum, states };
    const [Bt, L, H, P] = i.x.shape as [number, number, number, number];
    const [, , G, N] = i.B.shape as [number, number, number, number];
    const T = i.chunk;
    const nC = Math.ceil(L / T);
    const blh = Bt * L * H;
    const d: SsdDims = { Bt, L, H, P, G, N, T, nC };
    const u = (pBlocks: number, hasLast = false) => new Uniforms(48).u32(...ssdUniformWords(d, hasLast, !!i.D, pBlocks)).buffer;
    const [x, dt, B, C, dy] = [i.x, i.dt, i.B, i.C, gOut].map((t) => this.buf(t)) as GPUBuffer[];
    // Packed small inputs, so that no kernel binds more than 8 storage buffers.
    const tc = this.make([2, Bt, L, H]); // cum, dt
    this.ctx.copy(this.buf(kept.cum), 0, this.buf(tc), 0, blh * 4);
    this.ctx.copy(dt!, 0, this.buf(tc), blh * 4, blh * 4);
    // A, D; without D its half stays unwritten (the kernels read it only where p.hasD): an upload
    // here would flush, and make a recorded training step unreplayable.
    const prm = this.make([2, H]);
    this.ctx.copy(this.buf(i.A), 0, this.buf(prm), 0, H * 4);
    if (i.D) this.ctx.copy(this.buf(i.D), 0, this.buf(prm), H * 4, H * 4);
    // Scores of each chunk's pairs s ≤ t: C·Bᵀ per group, dy·xᵀ per head (the same kernel, with the
    // heads as groups and the head dim as the state).
    const rowBlocks = Math.ceil(T / SSD_OUT_TR);
    const cbs = this.make([Bt, nC, G, T, T]);
    this.ctx.dispatch(ssdScoresKernel, [B!, C!, this.buf(cbs)], u(rowBlocks), [rowBlocks * rowBlocks, G, Bt * nC]);
    const dyx = this.make([Bt, nC, H, T, T]);
    const dyxDims = new Uniforms(48).u32(...ssdUniformWords({ ...d, G: H, N: P }, false, false, rowBlocks)).buffer;
    this.ctx.dispatch(ssdScoresKernel, [x!, dy!, this.buf(dyx)], dyxDims, [rowBlocks * rowBlocks, H, Bt * nC]);
    // The state gradients: each chunk's own part, then carried back from the last state's.
    const statePB = Math.ceil(P / SSD_STATE_PB);
    const dS = this.make([Bt, nC, H, P, N]);
    this.ctx.dispatch(ssdStateGradKernel, [dy!, dt!, this.buf(kept.cum), C!, this.buf(dS)], u(statePB), [statePB * Math.ceil(N / SSD_STATE_NB), H, Bt * nC]);
    const dh0 = this.make([Bt, H, P, N]);
    this.ctx.dispatch(ssdReverseCarryKernel, [this.buf(tc), this.buf(dS), this.buf(gLast), this.buf(dh0)], u(1, !!gLast), grid1d(Bt * H * P * N));
    // dx (through acc), dC, dB.
    const dx = this.make([Bt, L, H, P]);
    this.ctx.dispatch(ssdDxAccKernel, [dy!, this.buf(tc), this.buf(cbs), B!, this.buf(dS), this.buf(dx)], u(1), grid1d(blh * P));
    const dC = this.make(i.C.shape);
    this.ctx.dispatch(ssdDcKernel, [dy!, this.buf(tc), this.buf(dyx), B!, this.buf(kept.states), this.buf(dC)], u(1), grid1d(Bt * L * G * N));
    const dB = this.make(i.B.shape);
    this.ctx.dispatch(ssdDbKernel, [x!, this.buf(tc), this.buf(dyx), C!, this.buf(dS), this.buf(dB)], u(1), grid1d(Bt * L * G * N));
    // ddt, dA, dD.
    const ddt = this.make([Bt, L, H]);
    const aux = this.make([2, Bt, L, H]);
    this.ctx.dispatch(ssdRowsKernel, [x!, dy!, this.buf(kept.out), this.buf(tc), this.buf(prm), this.buf(dx), this.buf(ddt), this.buf(aux)], u(1), grid1d(blh));
    const part = this.make([Bt, nC, H, 2]);
    this.ctx.dispatch(ssdChunkGradKernel, [this.buf(tc), this.buf(aux), this.buf(prm), this.buf(kept.states), this.buf(kept.lastState), this.buf(dS), this.buf(ddt), this.buf(part)], u(1), [H, Bt * nC]);
    const params = this.make([2, H]);
    this.ctx.dispatch(ssdParamGradKernel, [this.buf(part), this.buf(params)], u(1), grid1d(H));
    const dA = this.make([H]);
    this.ctx.copy(this.buf(params), 0, this.buf(dA), 0, H * 4);
    let dD: Tensor | null = null;
    if (i.D) {
      dD = this.make([H]);
      this.ctx.copy(this.buf(params), H * 4, this.buf(dD), 0, H * 4);
    }
    for (const t of [tc, prm, cbs, dyx, dS, aux, part, params]) t.dispose();
    let dInitialState: Tensor | null = dh0;
    if (!i.initialState) {
      dh0.dispose();
      dInitialState = null;
    }
    return { dx, ddt, dA, dB, dC, dD, dInitialState };
  }
}
