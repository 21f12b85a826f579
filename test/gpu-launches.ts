/**
 * The kernels a piece of WebGPU work launches, by key, in order: for tests that must prove which
 * route a computation took (a kernel of the wrong route gives the same numbers).
 */
import type { WebGpuBackend } from '../src/backend/webgpu/index.js';

export function launchedKernels(gpu: WebGpuBackend, fn: () => void): string[] {
  const ctx = gpu.ctx;
  const dispatch = ctx.dispatch;
  const keys: string[] = [];
  ctx.dispatch = function (this: typeof ctx, k, buffers, uniforms, groups) {
    keys.push(k.key);
    dispatch.call(this, k, buffers, uniforms, groups);
  };
  try {
    fn();
  } finally {
    ctx.dispatch = dispatch;
  }
  return keys;
}
