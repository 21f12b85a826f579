/**
 * Hands out byte ranges of one growable address space (the WebAssembly memory that holds every CPU
 * tensor): 64-byte aligned blocks, reused through free lists, neighbours merged on free.
 *
 * Free blocks are indexed three ways: by start and by end (so a freed block finds its neighbours
 * in O(1) and merges with them), and by size class (powers of two), so that an allocation looks at
 * a handful of candidates: first fit within its own class, else any block of a larger class. A
 * block that ends at the top of the used space merges into it (the top moves down) instead. Only
 * when nothing free fits does the space grow, by at least an eighth of its size (fewer grows of a
 * memory that may be copied), and by exactly what is needed when the larger step fails.
 */

export const BLOCK_ALIGN = 64;

/** Grows the space to at least `bytes`; returns its new size, or null when it cannot grow that far. */
export type GrowFn = (bytes: number) => number | null;

const CLASSES = 40;
/** Candidates examined in an allocation's own class before moving to larger classes. */
const FIRST_FIT_TRIES = 8;

function sizeClass(bytes: number): number {
  return Math.min(CLASSES - 1, Math.floor(Math.log2(bytes / BLOCK_ALIGN)));
}

export class BlockAllocator {
  private top: number;
  /** The highest byte ever handed out: memory above it is still zero from the grow. */
  private touched: number;
  private readonly byStart = new Map<number, number>(); // start → size
  private readonly byEnd = new Map<number, number>(); // end → start
  private readonly classes: Set<number>[] = Array.from({ length: CLASSES }, () => new Set<number>());

  /**
   * @param base first address handed out
   * @param size current size of the space (bytes)
   * @param grow makes the space larger
   */
  constructor(
    readonly base: number,
    private size: number,
    private readonly grow: GrowFn,
  ) {
    this.top = base;
    this.touched = base;
  }

  /** Rounds a request up to the block size actually reserved. */
  static blockBytes(bytes: number): number {
    return Math.max(BLOCK_ALIGN, Math.ceil(bytes / BLOCK_ALIGN) * BLOCK_ALIGN);
  }

  /**
   * A block of at least `bytes` (see blockBytes), or null when the space cannot grow to hold it.
   * `dirty` tells whether the block may hold old data (false: it is zero).
   */
  alloc(bytes: number): { ptr: number; dirty: boolean } | null {
    const need = BlockAllocator.blockBytes(bytes);
    const ptr = this.takeFree(need) ?? this.takeTop(need);
    if (ptr === null) return null;
    const dirty = ptr < this.touched;
    this.touched = Math.max(this.touched, ptr + need);
    return { ptr, dirty };
  }

  /** Returns a block from alloc (with the same `bytes`). */
  free(ptr: number, bytes: number): void {
    let start = ptr;
    let size = BlockAllocator.blockBytes(bytes);
    const before = this.byEnd.get(start);
    if (before !== undefined) {
      const beforeSize = this.byStart.get(before)!;
      this.unlink(before, beforeSize);
      start = before;
      size += beforeSize;
    }
    const afterSize = this.byStart.get(start + size);
    if (afterSize !== undefined) {
      this.unlink(start + size, afterSize);
      size += afterSize;
    }
    if (start + size === this.top) this.top = start;
    else this.link(start, size);
  }

  /** Bytes between the base and the top of the used space (live blocks and the free ones below the top). */
  get span(): number {
    return this.top - this.base;
  }
  /** Free bytes below the top, in `blocks` pieces. */
  freeBytes(): { bytes: number; blocks: number } {
    let bytes = 0;
    for (const s of this.byStart.values()) bytes += s;
    return { bytes, blocks: this.byStart.size };
  }

  private takeFree(need: number): number | null {
    const own = sizeClass(need);
    let tries = 0;
    for (const start of this.classes[own]!) {
      const size = this.byStart.get(start)!;
      if (size >= need) return this.split(start, size, need);
      if (++tries === FIRST_FIT_TRIES) break;
    }
    for (let c = own + 1; c < CLASSES; c++) {
      for (const start of this.classes[c]!) return this.split(start, this.byStart.get(start)!, need);
    }
    return null;
  }

  private split(start: number, size: number, need: number): number {
    this.unlink(start, size);
    if (size > need) this.link(start + need, size - need);
    return start;
  }

  private takeTop(need: number): number | null {
    const end = this.top + need;
    if (end > this.size) {
      const size = this.grow(Math.max(end, this.size + Math.ceil(this.size / 8))) ?? this.grow(end);
      if (size === null) return null;
      this.size = size;
    }
    const ptr = this.top;
    this.top = end;
    return ptr;
  }

  private link(start: number, size: number): void {
    this.byStart.set(start, size);
    this.byEnd.set(start + size, start);
    this.classes[sizeClass(size)]!.add(start);
  }

  private unlink(start: number, size: number): void {
    this.byStart.delete(start);
    this.byEnd.delete(start + size);
    this.classes[sizeClass(size)]!.delete(start);
  }
}
