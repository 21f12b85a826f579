/**
 * The CPU backend's memory: buffers in the WebAssembly heap where the kernels run (wasm/), else
 * JavaScript typed arrays; byte accounting; and reading values back (16-bit weights widened).
 *
 * The kernels start on first use. MAMBA_TS_CPU_KERNELS=ts (or `kernels: 'ts'`) keeps the plain
 * TypeScript backend, for comparison. In a browser page the module compiles asynchronously: until
 * it is ready (`ready()`), new tensors are JavaScript arrays and run on the TypeScript kernels.
 */
import { ArgumentError } from '../../errors.js';
import { bf16ToF32, f16ToF32 } from '../../tensor/half.js';
import type { DataArray, DType } from '../../tensor/dtype.js';
import { envSetting, mayCompileSynchronously } from '#platform/threads.js';
import { CpuStorage, type StorageKind } from './storage.js';
import { WasmRuntime, type CpuKernelInfo, type RuntimeOptions } from './wasm/runtime.js';

export type CpuKernels = 'wasm' | 'ts';

export interface CpuMemoryOptions {
  /** 'ts': TypeScript kernels over JavaScript arrays only (default: MAMBA_TS_CPU_KERNELS, else 'wasm'). */
  kernels?: CpuKernels;
  runtime?: RuntimeOptions;
}

function kernelsFromEnv(): CpuKernels | undefined {
  const v = envSetting('MAMBA_TS_CPU_KERNELS');
  if (v === undefined || v === '') return undefined;
  if (v !== 'wasm' && v !== 'ts') throw new ArgumentError(`MAMBA_TS_CPU_KERNELS: expected 'wasm' or 'ts', got ${JSON.stringify(v)}`);
  return v;
}

export class CpuMemory {
  /** Bytes of live tensors. */
  bytes = 0;
  private rt: WasmRuntime | null | undefined;
  private pending: Promise<void> | null = null;
  private reason = '';

  constructor(private readonly o: CpuMemoryOptions = {}) {}

  /** The WebAssembly kernels, started on first use; null where the TypeScript kernels run. */
  get runtime(): WasmRuntime | null {
    if (this.rt === undefined) this.start();
    return this.rt ?? null;
  }

  /** Resolves once the kernels are ready (at once, except while a browser compiles them). */
  async ready(): Promise<void> {
    if (this.rt === undefined) this.start();
    await this.pending;
  }

  info(): CpuKernelInfo {
    const rt = this.runtime;
    if (!rt) return { kernels: 'ts', threads: 1, sharedMemory: false, reason: this.reason || 'the WebAssembly kernels are still compiling' };
    return { kernels: 'wasm', variant: rt.variant, threads: rt.threads, sharedMemory: rt.heap.shared };
  }

  private start(): void {
    this.rt = null;
    if ((this.o.kernels ?? kernelsFromEnv() ?? 'wasm') === 'ts') {
      this.reason = this.o.kernels ? "kernels: 'ts' was asked for" : 'MAMBA_TS_CPU_KERNELS=ts';
      return;
    }
    if (!mayCompileSynchronously()) {
      this.pending = WasmRuntime.createAsync(this.o.runtime).then((r) => this.settle(r));
      return;
    }
    this.settle(WasmRuntime.create(this.o.runtime));
  }

  private settle(r: WasmRuntime | string): void {
    if (typeof r === 'string') this.reason = r;
    else this.rt = r;
  }

  /** A buffer of `length` elements, zero-filled unless `zero` is false (the caller overwrites all of it). */
  alloc(kind: StorageKind, length: number, zero = true): CpuStorage {
    const bytes = CpuStorage.bytesOf(kind, length);
    const heap = this.runtime?.heap;
    const ptr = heap ? heap.alloc(bytes, zero) : null;
    this.bytes += bytes;
    if (heap && ptr !== null) return CpuStorage.inHeap(heap, ptr, kind, length);
    // No kernels, or the 4 GiB address space is full: an ordinary array.
    return CpuStorage.ofArray(kind, kind === 'f32' ? new Float32Array(length) : kind === 'i32' ? new Int32Array(length) : new Uint16Array(length));
  }

  upload(data: DataArray): CpuStorage {
    const kind = data instanceof Int32Array ? 'i32' : 'f32';
    if (!this.runtime) {
      this.bytes += data.byteLength;
      return CpuStorage.ofArray(kind, data);
    }
    const s = this.alloc(kind, data.length, false);
    s.data.set(data);
    return s;
  }

  uploadHalf(bits: Uint16Array): CpuStorage {
    const s = this.alloc('half', bits.length, false);
    s.bits.set(bits);
    return s;
  }

  free(s: CpuStorage): void {
    this.bytes -= s.byteLength;
    if (s.heap) s.heap.free(s.ptr, s.byteLength);
  }

  /** A copy of the values: float32 for f32 and the half dtypes, int32 for i32. */
  read(s: CpuStorage, dtype: DType, size: number): DataArray {
    if (s.kind !== 'half') return s.data.slice(0, size);
    const bits = s.bits.subarray(0, size);
    return dtype === 'f16' ? f16ToF32(bits) : bf16ToF32(bits);
  }
}

/**
 * One float32 scratch block in the kernels' heap holding the parts of `sizes` one after another,
 * and where each part starts (in elements): the fused decode steps keep all their intermediates in
 * one allocation. Null (nothing held) where the block would not lie in the heap (no kernels, or a
 * full heap, which hands out an ordinary array at address 0 that the kernels cannot write).
 */
export function heapScratch(mem: CpuMemory, sizes: readonly number[]): { scratch: CpuStorage; offsets: number[] } | null {
  const offsets: number[] = [];
  let total = 0;
  for (const n of sizes) {
    offsets.push(total);
    total += n;
  }
  const scratch = mem.alloc('f32', total, false);
  if (!mem.runtime || scratch.heap !== mem.runtime.heap) {
    mem.free(scratch);
    return null;
  }
  return { scratch, offsets };
}
