/**
 * The WebAssembly memory that holds every CPU tensor, and its allocator. Shared (so that worker
 * threads compute on the same bytes) wherever SharedArrayBuffer exists, else a plain memory for
 * one thread. wasm32 addresses 4 GiB; a tensor that no longer fits gets an ordinary JavaScript
 * array instead (the backend then runs the TypeScript kernels on it).
 *
 * A plain memory's ArrayBuffer is replaced (the old one detached) whenever the memory grows, so
 * views over it are re-made after a grow: `generation` counts grows, and CpuStorage re-makes its
 * view when the generation it saw has passed. A shared memory's old buffers stay valid, but views
 * are re-made the same way.
 */
import { BlockAllocator } from './allocator.js';
import { HEAP_BASE } from './layout.js';

const PAGE = 65536;
/** wasm32's whole address space, in pages. */
export const MAX_PAGES = 65536;

export class WasmHeap {
  /** Bumped on every grow; views made before it must be re-made. */
  generation = 0;
  private buf: ArrayBuffer | SharedArrayBuffer;
  private readonly allocator: BlockAllocator;

  private constructor(
    readonly memory: WebAssembly.Memory,
    readonly shared: boolean,
    /** The most pages the memory may reach (less than MAX_PAGES where the engine could not reserve all). */
    readonly maximumPages: number,
  ) {
    this.buf = memory.buffer;
    this.allocator = new BlockAllocator(HEAP_BASE, this.buf.byteLength, (bytes) => this.grow(bytes));
  }

  /**
   * A new memory of `initialBytes`, shared or not. A shared memory needs its maximum reserved up
   * front; where the engine cannot reserve 4 GiB (32-bit hosts, some phones) smaller maxima are
   * tried. Null when no memory could be made at all.
   */
  static create(shared: boolean, initialBytes = 16 * 1024 * 1024, maximumPages = MAX_PAGES): WasmHeap | null {
    const initial = Math.max(Math.ceil(Math.max(initialBytes, HEAP_BASE + PAGE) / PAGE), 2);
    for (let maximum = maximumPages; maximum >= Math.max(initial, Math.min(1024, maximumPages)); maximum = Math.floor(maximum / 2)) {
      try {
        return new WasmHeap(new WebAssembly.Memory({ initial, maximum, shared }), shared, maximum);
      } catch {
        // too large a reservation for this engine: try half
      }
    }
    return null;
  }

  get buffer(): ArrayBuffer | SharedArrayBuffer {
    return this.buf;
  }

  /**
   * A 64-byte aligned block of `bytes`, zero-filled when `zero`, or null when the address space is
   * exhausted. May grow the memory (see `generation`).
   */
  alloc(bytes: number, zero: boolean): number | null {
    const block = this.allocator.alloc(bytes);
    if (!block) return null;
    if (zero && block.dirty && bytes > 0) new Uint8Array(this.buf, block.ptr, BlockAllocator.blockBytes(bytes)).fill(0);
    return block.ptr;
  }

  /** Returns a block from alloc (with the same `bytes`). */
  free(ptr: number, bytes: number): void {
    this.allocator.free(ptr, bytes);
  }

  /** Bytes of the memory in use by blocks (live and free below the top), and the memory's size. */
  usage(): { usedBytes: number; freeBytes: number; memoryBytes: number } {
    return { usedBytes: this.allocator.span, freeBytes: this.allocator.freeBytes().bytes, memoryBytes: this.buf.byteLength };
  }

  private grow(bytes: number): number | null {
    const pages = Math.ceil(bytes / PAGE);
    const have = this.buf.byteLength / PAGE;
    if (pages > this.maximumPages) return null;
    try {
      this.memory.grow(pages - have);
    } catch {
      return null; // the engine refused (out of memory)
    }
    this.buf = this.memory.buffer;
    this.generation++;
    return this.buf.byteLength;
  }
}
