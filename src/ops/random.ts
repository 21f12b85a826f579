/** Seeded random tensors, for initialisation and tests. */
import { tensor, type CreateOptions } from './create.js';
import { sizeOf, type Shape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';

/** A small seeded generator (mulberry32): uniform floats in [0, 1). */
export class RandomSource {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** The generator's whole state (for checkpoints): restoring it continues the same sequence. */
  get state(): number {
    return this.s;
  }
  set state(v: number) {
    this.s = v >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}

export function randomUniform(shape: Shape, lo: number, hi: number, rng: RandomSource, o: CreateOptions = {}): Tensor {
  const a = new Float32Array(sizeOf(shape));
  for (let i = 0; i < a.length; i++) a[i] = lo + (hi - lo) * rng.next();
  return tensor(a, shape, o);
}

export function randomNormal(shape: Shape, std: number, rng: RandomSource, o: CreateOptions = {}): Tensor {
  const a = new Float32Array(sizeOf(shape));
  for (let i = 0; i < a.length; i++) a[i] = std * rng.normal();
  return tensor(a, shape, o);
}

export function filled(shape: Shape, value: number | ((i: number) => number), o: CreateOptions = {}): Tensor {
  const a = new Float32Array(sizeOf(shape));
  for (let i = 0; i < a.length; i++) a[i] = typeof value === 'number' ? value : value(i);
  return tensor(a, shape, o);
}
