/**
 * Reuses GPU buffers by size class, so that a forward pass does not create and destroy hundreds of
 * buffers. Sizes are rounded up (to 256 bytes, then to 1/8 steps of powers of two) so that similar
 * requests share a class while at most 12.5% is wasted.
 */

export function sizeClass(bytes: number): number {
  const b = Math.max(256, Math.ceil(bytes / 256) * 256);
  if (b <= 65536) return b;
  const step = 2 ** (Math.floor(Math.log2(b)) - 3);
  return Math.ceil(b / step) * step;
}

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  private sizes = new WeakMap<GPUBuffer, number>();
  /** The pooled buffers, least recently released first (a Map iterates in insertion order). */
  private lru = new Map<GPUBuffer, number>();
  private held = 0; // bytes in buffers handed out
  private pooled = 0; // bytes in buffers kept for reuse

  constructor(
    private readonly device: GPUDevice,
    private readonly usage: GPUBufferUsageFlags,
    /**
     * Pooled bytes above which the least recently released buffers are destroyed. Large enough for
     * one layer's temporaries over a prompt chunk (3.5 GB for a 1.3B Transformer's 16,384 tokens),
     * so that the next layer reuses them: destroyed buffers are freed only once the GPU is past the
     * work that used them, and the host records a whole chunk ahead of it, so destroying each
     * layer's temporaries held every layer's at once (past 80 GB).
     */
    private readonly maxPooledBytes = 2 ** 32,
  ) {}

  /** A buffer of at least `bytes`; its size class is capped at `cap` (the binding limit). */
  acquire(bytes: number, cap = Infinity): GPUBuffer {
    const size = Math.max(Math.ceil(bytes / 4) * 4, Math.min(sizeClass(bytes), cap));
    const list = this.free.get(size);
    const b = list?.pop();
    this.held += size;
    if (b) {
      this.pooled -= size;
      this.lru.delete(b);
      return b;
    }
    const created = this.device.createBuffer({ size, usage: this.usage });
    this.sizes.set(created, size);
    return created;
  }

  /**
   * Keeps `b` for reuse, making room by evicting the least recently released buffers (sizes the
   * work has moved away from: a full pool of an earlier shape's buffers would otherwise turn every
   * new temporary into a destroy). Returns the buffers the caller must destroy: the evicted ones,
   * or `b` itself when it alone is larger than the pool.
   */
  release(b: GPUBuffer): GPUBuffer[] {
    // Sizes are remembered here: reading GPUBuffer.size calls into the native binding.
    const size = this.sizes.get(b) ?? b.size;
    this.held -= size;
    if (size > this.maxPooledBytes) return [b];
    const evicted: GPUBuffer[] = [];
    for (const [old, oldSize] of this.lru) {
      if (this.pooled + size <= this.maxPooledBytes) break;
      this.lru.delete(old);
      const list = this.free.get(oldSize)!;
      list.splice(list.indexOf(old), 1);
      this.pooled -= oldSize;
      evicted.push(old);
    }
    this.pooled += size;
    this.lru.set(b, size);
    const list = this.free.get(size);
    if (list) list.push(b);
    else this.free.set(size, [b]);
    return evicted;
  }

  heldBytes(): number {
    return this.held;
  }
  pooledBytes(): number {
    return this.pooled;
  }

  destroyAll(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.lru.clear();
    this.pooled = 0;
  }
}
