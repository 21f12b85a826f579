/**
 * Float32 tensors on a CPU backend instance of a test's own (CpuBackend({ kernels: 'wasm' | 'ts' })),
 * for the tests that compare the WebAssembly kernels with the TypeScript ones.
 */
import type { CpuBackend } from '../src/backend/cpu/index.js';
import { StorageRef, Tensor } from '../src/tensor/tensor.js';

export function f32On(b: CpuBackend, data: Float32Array, shape: number[]): Tensor {
  return new Tensor(shape, 'f32', new StorageRef(b, b.upload(data)));
}

/** f32On, or null for absent data (an optional input). */
export function f32OnOrNull(b: CpuBackend, data: Float32Array | null, shape: number[]): Tensor | null {
  return data ? f32On(b, data, shape) : null;
}
