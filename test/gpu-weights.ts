/** Weights for the decode-product kernel tests: f32, or packed bf16/f16 with the values the kernels see. */
import { halfTensor, tensor } from '../src/ops/create.js';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../src/tensor/half.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { randomArray } from './helpers.js';

export type WeightKind = 'f32' | 'bf16' | 'f16';

/** A weight (N, K) on the GPU and the values the kernel sees (rounded to the half type). */
export function weight(N: number, K: number, kind: WeightKind, seed: number): { w: Tensor; values: Float32Array } {
  const v = randomArray(N * K, seed);
  if (kind === 'f32') return { w: tensor(v, [N, K], { device: 'webgpu' }), values: v };
  const bits = kind === 'bf16' ? f32ToBf16(v) : f32ToF16(v);
  return { w: halfTensor(bits, [N, K], kind, { device: 'webgpu' }), values: kind === 'bf16' ? bf16ToF32(bits) : f16ToF32(bits) };
}
