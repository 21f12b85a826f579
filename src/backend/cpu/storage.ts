/**
 * A CPU tensor's buffer: a block of the WebAssembly memory (wasm/heap.ts) where the kernels run,
 * else an ordinary typed array (the TypeScript kernels, or a tensor that found no room in the 4 GiB
 * address space). Either way the TypeScript kernels see typed arrays: `data` (f32, i32) or `bits`
 * (bf16/f16, two bytes per value).
 */
import type { Storage } from '../backend.js';
import type { DataArray } from '../../tensor/dtype.js';
import type { WasmHeap } from './wasm/heap.js';

type View = Float32Array | Int32Array | Uint16Array;

/** What the bytes hold: float32, int32, or 16-bit floats (bf16 or f16: the tensor's dtype says which). */
export type StorageKind = 'f32' | 'i32' | 'half';

export class CpuStorage implements Storage {
  private view: View;
  private viewGeneration: number;

  private constructor(
    readonly kind: StorageKind,
    /** Elements. */
    readonly length: number,
    /** The memory holding it; null for a JavaScript array. */
    readonly heap: WasmHeap | null,
    /** Byte address in the heap (0 off it). */
    readonly ptr: number,
    view: View,
  ) {
    this.view = view;
    this.viewGeneration = heap ? heap.generation : 0;
  }

  /** Over a block of `heap` at `ptr` (allocated for storageBytes). */
  static inHeap(heap: WasmHeap, ptr: number, kind: StorageKind, length: number): CpuStorage {
    return new CpuStorage(kind, length, heap, ptr, makeView(heap, ptr, kind, length));
  }

  /** Over an array of its own. */
  static ofArray(kind: StorageKind, array: View): CpuStorage {
    return new CpuStorage(kind, array.length, null, 0, array);
  }

  /** Bytes `length` elements of `kind` take (halves packed two to a word), as memoryBytes() counts them. */
  static bytesOf(kind: StorageKind, length: number): number {
    return kind === 'half' ? Math.ceil(length / 2) * 4 : length * 4;
  }

  get byteLength(): number {
    return CpuStorage.bytesOf(this.kind, this.length);
  }

  /** The f32 or i32 values (a view into the heap, re-made after the memory grew). */
  get data(): DataArray {
    if (this.kind === 'half') throw new Error('internal: 16-bit storage read as float32/int32 values');
    return this.current() as DataArray;
  }

  /** The bf16/f16 bits. */
  get bits(): Uint16Array {
    if (this.kind !== 'half') throw new Error(`internal: ${this.kind} storage read as 16-bit values`);
    return this.current() as Uint16Array;
  }

  private current(): View {
    const heap = this.heap;
    if (heap && this.viewGeneration !== heap.generation) {
      this.view = makeView(heap, this.ptr, this.kind, this.length);
      this.viewGeneration = heap.generation;
    }
    return this.view;
  }
}

function makeView(heap: WasmHeap, ptr: number, kind: StorageKind, length: number): View {
  const buf = heap.buffer;
  if (kind === 'f32') return new Float32Array(buf, ptr, length);
  if (kind === 'i32') return new Int32Array(buf, ptr, length);
  return new Uint16Array(buf, ptr, length);
}
