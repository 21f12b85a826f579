/**
 * The CPU's fused AdamW (Backend.createFusedAdamW): the clip and the per-parameter in-place
 * update the CPU already has (sumOfSquares, scaleInPlace, adamwUpdate), behind the interface the
 * WebGPU version implements in one launch. The CPU records nothing, so "device work" is simply
 * done at once; the numbers are exactly those of clipGradNorm followed by AdamW.update().
 */
import type { AdamWScalars, FusedAdamW, FusedAdamWLayout } from '../backend.js';
import { ArgumentError } from '../../errors.js';
import { checkFusedAdamWLists } from '../fused-adamw-check.js';
import { StorageRef, Tensor } from '../../tensor/tensor.js';
import { keep } from '../../tensor/memory.js';
import type { CpuBackend } from './index.js';
import type { CpuStorage } from './storage.js';

/** The float32 elements of a CPU tensor, in place. */
const values = (t: Tensor) => (t.storage as CpuStorage).data as Float32Array;

export class CpuFusedAdamW implements FusedAdamW {
  private readonly m: Tensor[];
  private readonly v: Tensor[];
  private h: AdamWScalars | null = null;
  readonly gradNorm: Tensor;

  constructor(
    private readonly backend: CpuBackend,
    private readonly layout: FusedAdamWLayout,
  ) {
    const zeros = (n: number) => keep(new Tensor([n], 'f32', new StorageRef(backend, backend.alloc('f32', n))));
    this.m = layout.sizes.map(zeros);
    this.v = layout.sizes.map(zeros);
    this.gradNorm = zeros(1);
  }

  setScalars(h: AdamWScalars): void {
    this.h = { ...h };
  }

  apply(params: readonly Tensor[], grads: readonly (Tensor | null)[], maxNorm: number): void {
    const h = this.h;
    if (!h) throw new ArgumentError('FusedAdamW.apply: setScalars() must come first');
    checkFusedAdamWLists(this.layout, params, grads);
    const present = grads.filter((g): g is Tensor => g !== null);
    const norm = Math.sqrt(this.backend.sumOfSquares(present));
    values(this.gradNorm)[0] = norm;
    if (!Number.isFinite(norm)) return;
    if (Number.isFinite(maxNorm) && norm > maxNorm) {
      const f = maxNorm / (norm + 1e-6);
      for (const g of present) this.backend.scaleInPlace(g, f);
    }
    params.forEach((p, i) => {
      const g = grads[i];
      if (!g) return;
      this.backend.adamwUpdate(p, g, this.m[i]!, this.v[i]!, { ...h, decayFactor: this.layout.decay[i] ? h.decayFactor : 1 });
    });
  }

  readMoments(i: number): { m: Tensor; v: Tensor } {
    const copy = (t: Tensor) => new Tensor([...t.shape], 'f32', new StorageRef(this.backend, this.backend.upload(Float32Array.from(values(t)))));
    return { m: copy(this.m[i]!), v: copy(this.v[i]!) };
  }

  writeMoments(i: number, m: Tensor, v: Tensor): void {
    values(this.m[i]!).set(values(m));
    values(this.v[i]!).set(values(v));
  }

  dispose(): void {
    for (const t of [...this.m, ...this.v, this.gradNorm]) t.dispose();
  }
}
