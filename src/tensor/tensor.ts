import type { Backend, Storage } from '../backend/backend.js';
import type { DataArray, DType } from './dtype.js';
import { formatShape, sizeOf, type Shape } from './shape.js';
import { track, untrack as untrackTensor } from './memory.js';

/**
 * A backend buffer shared by a tensor and its reshaped views. The buffer goes back to the backend
 * when the last tensor using it is disposed.
 */
let nextRefId = 1;

export class StorageRef {
  /** Unique per buffer (views share it); never reused, so caches may key by it. */
  readonly id = nextRefId++;
  private refs = 1;
  constructor(
    readonly backend: Backend,
    readonly storage: Storage,
  ) {}
  retain(): void {
    this.refs++;
  }
  release(): void {
    if (--this.refs === 0) this.backend.free(this.storage);
  }
  /** True once the last tensor using the buffer was disposed. */
  get released(): boolean {
    return this.refs === 0;
  }
}

let nextId = 1;

/** Set by the autograd layer (src/autograd/backward.ts), which the tensor layer does not import. */
let backwardImpl: ((t: Tensor, grad?: Tensor) => void) | null = null;
export function setBackwardImpl(f: (t: Tensor, grad?: Tensor) => void): void {
  backwardImpl = f;
}

/**
 * An n-dimensional array on one device. Ops return tensors at once; reading the values is
 * asynchronous (`await t.data()`) so that one API serves the CPU and WebGPU. Contiguous, row-major.
 */
export class Tensor {
  readonly id = nextId++;
  readonly size: number;
  private disposedFlag = false;

  constructor(
    readonly shape: Shape,
    readonly dtype: DType,
    readonly ref: StorageRef,
  ) {
    this.size = sizeOf(shape);
    track(this);
  }

  get backend(): Backend {
    return this.ref.backend;
  }
  get device(): string {
    return this.ref.backend.name;
  }
  get storage(): Storage {
    this.assertAlive();
    return this.ref.storage;
  }
  get rank(): number {
    return this.shape.length;
  }
  get isDisposed(): boolean {
    return this.disposedFlag;
  }

  /** Copies the values out (a new array; row-major; bf16/f16 come back as float32). */
  async data(): Promise<DataArray> {
    this.assertAlive();
    return this.backend.read(this.ref.storage, this.dtype, this.size);
  }

  /** Synchronous read, for backends that can (the CPU). */
  dataSync(): DataArray {
    this.assertAlive();
    if (!this.backend.readSync) throw new Error(`dataSync() is not available on ${this.device}; use await t.data()`);
    return this.backend.readSync(this.ref.storage, this.dtype, this.size);
  }

  /** Nested arrays, for small tensors and tests. */
  async array(): Promise<unknown> {
    const flat = Array.from(await this.data());
    return nest(flat, this.shape);
  }

  /** Gradients of this (scalar, or with `grad` given) tensor into every leaf that requires them. */
  backward(grad?: Tensor): void {
    if (!backwardImpl) throw new Error('backward(): the autograd module is not loaded (import it from mamba-ts)');
    backwardImpl(this, grad);
  }

  dispose(): void {
    if (this.disposedFlag) return;
    this.disposedFlag = true;
    this.ref.release();
    untrackTensor(this);
  }

  assertAlive(): void {
    if (this.disposedFlag) throw new Error(`tensor ${this.id} ${formatShape(this.shape)} was used after dispose()`);
  }

  toString(): string {
    return `Tensor(${formatShape(this.shape)}, ${this.dtype}, ${this.device})`;
  }
}

function nest(flat: number[], shape: Shape): unknown {
  if (shape.length === 0) return flat[0];
  if (shape.length === 1) return flat;
  const [d, ...rest] = shape as number[];
  const inner = sizeOf(rest);
  return Array.from({ length: d! }, (_, i) => nest(flat.slice(i * inner, (i + 1) * inner), rest));
}

