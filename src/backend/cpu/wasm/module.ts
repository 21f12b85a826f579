/**
 * The kernels' WebAssembly binary: which build this engine runs (relaxed SIMD where it validates,
 * else plain SIMD, else none), and its form for an unshared memory.
 */
import { KERNELS_RELAXED_SIMD, KERNELS_SIMD } from './kernels-binary.js';

export type KernelVariant = 'relaxed-simd' | 'simd';

function decode(base64: string): Uint8Array<ArrayBuffer> {
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/**
 * The binary for this engine, or null when it has no WebAssembly SIMD (or threads' atomics, which
 * the kernels use even on one thread). Relaxed SIMD is on by default from Node 22 and Chrome 114;
 * Node 20 runs it with --experimental-wasm-relaxed-simd.
 */
export function kernelBinary(prefer: KernelVariant = 'relaxed-simd'): { variant: KernelVariant; bytes: Uint8Array<ArrayBuffer> } | null {
  if (typeof WebAssembly !== 'object') return null;
  if (prefer === 'relaxed-simd') {
    const bytes = decode(KERNELS_RELAXED_SIMD);
    if (WebAssembly.validate(bytes)) return { variant: 'relaxed-simd', bytes };
  }
  const bytes = decode(KERNELS_SIMD);
  return WebAssembly.validate(bytes) ? { variant: 'simd', bytes } : null;
}

/**
 * The same binary importing an unshared memory (for pages that are not cross-origin isolated): the
 * import's limits flag changes from shared (0x03) to plain (0x01). Atomic instructions still
 * validate on an unshared memory; only memory.atomic.wait would trap, and one thread never waits.
 */
export function forUnsharedMemory(bytes: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  const out = bytes.slice();
  let p = 8; // magic and version
  const leb = (): number => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      const b = out[p++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
  };
  while (p < out.length) {
    const id = out[p++]!;
    const size = leb();
    if (id !== 2) {
      p += size;
      continue;
    }
    // The import section: the build allows exactly one import, the memory (scripts/build-wasm.mjs).
    leb(); // count
    const moduleName = leb();
    p += moduleName;
    const fieldName = leb();
    p += fieldName;
    if (out[p++] !== 2 || out[p] !== 0x03) break;
    out[p] = 0x01;
    return out;
  }
  throw new Error('kernels binary: no shared memory import to rewrite (was it built by scripts/build-wasm.mjs?)');
}
