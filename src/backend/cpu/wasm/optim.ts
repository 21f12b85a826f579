/** AdamW on the WebAssembly kernels (assembly/adamw.ts): posts one job per parameter, tiles of a fixed length. */
import type { AdamWScalars } from '../../backend.js';
import type { CpuStorage } from '../storage.js';
import { AW_G, AW_LENGTH, AW_M, AW_P, AW_SCALARS, AW_TILE, AW_V, K_ADAMW } from './layout.js';
import type { WasmRuntime } from './runtime.js';

/** Elements per tile (the arithmetic of an element does not depend on it). */
const TILE = 65536;

const f64 = new Float64Array(1);
const words = new Int32Array(f64.buffer);

export function adamwOnPool(rt: WasmRuntime, p: CpuStorage, g: CpuStorage, m: CpuStorage, v: CpuStorage, h: AdamWScalars): void {
  const args: number[] = [];
  args[AW_P] = p.ptr;
  args[AW_G] = g.ptr;
  args[AW_M] = m.ptr;
  args[AW_V] = v.ptr;
  args[AW_LENGTH] = p.length;
  args[AW_TILE] = TILE;
  [h.lr, h.beta1, h.beta2, h.eps, 1 / h.correction1, 1 / h.correction2, h.decayFactor].forEach((x, i) => {
    f64[0] = x;
    args[AW_SCALARS + 2 * i] = words[0]!;
    args[AW_SCALARS + 2 * i + 1] = words[1]!;
  });
  rt.pool.run(K_ADAMW, args, Math.ceil(p.length / TILE));
}
