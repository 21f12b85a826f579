/**
 * AdamW over all parameters in three launches (Backend.createFusedAdamW): the gradients are
 * copied into one flat buffer, a sum of squares and a one-workgroup pass turn it into the norm
 * and the clip's scale (on the device: no readback), and one kernel updates a flat copy of all
 * parameters and both flat moments, which is then copied back into each parameter's own buffer.
 * Copies are commands, not launches, and a replayed step (Backend.recordWork) repeats them without
 * any JavaScript. The step's scalars sit in a small device buffer written before each step, so a
 * recorded step reads the current learning rate and bias corrections.
 */
import type { AdamWScalars, FusedAdamW, FusedAdamWLayout } from '../backend.js';
import { ArgumentError } from '../../errors.js';
import { StorageRef, Tensor } from '../../tensor/tensor.js';
import { keep } from '../../tensor/memory.js';
import { checkFusedAdamWLists } from '../fused-adamw-check.js';
import { grid1d, Uniforms, type GpuContext } from './context.js';
import { adamwFlatKernel, clipScaleKernel, SUMSQ_GROUPS, sumSquaresPartialKernel } from './kernels/adamw.js';
import type { GpuStorage, WebGpuBackend } from './index.js';

/** The GPU buffer behind a WebGPU tensor. */
const bufferOf = (t: Tensor): GPUBuffer => (t.storage as GpuStorage).buffer;

export class GpuFusedAdamW implements FusedAdamW {
  private readonly ctx: GpuContext;
  /** Element offsets of each parameter in the flat buffers (k + 1). */
  private readonly offsets: number[];
  private readonly total: number;
  /** Flat: all parameters, all gradients, first and second moments; scratch and control buffers. */
  private readonly flat: { p: Tensor; g: Tensor; m: Tensor; v: Tensor; partial: Tensor; stats: Tensor; hyper: Tensor; segs: Tensor };
  readonly gradNorm: Tensor;
  /** Which tensor each parameter's flat copy was last taken from (by storage id), and the flags written. */
  private readonly synced: (number | null)[];
  private flags: number[] | null = null;
  private scalarsSet = false;

  constructor(
    private readonly backend: WebGpuBackend,
    private readonly layout: FusedAdamWLayout,
  ) {
    this.ctx = backend.ctx;
    this.offsets = [0];
    for (const n of layout.sizes) this.offsets.push(this.offsets[this.offsets.length - 1]! + n);
    this.total = this.offsets[this.offsets.length - 1]!;
    const zeros = (n: number, dtype: 'f32' | 'i32' = 'f32') => keep(new Tensor([Math.max(1, n)], dtype, new StorageRef(backend, backend.alloc(dtype, Math.max(1, n)))));
    const k = layout.sizes.length;
    this.flat = { p: zeros(this.total), g: zeros(this.total), m: zeros(this.total), v: zeros(this.total), partial: zeros(SUMSQ_GROUPS), stats: zeros(4), hyper: zeros(4), segs: zeros(2 * k + 1, 'i32') };
    this.gradNorm = zeros(1);
    this.synced = layout.sizes.map(() => null);
  }

  setScalars(h: AdamWScalars): void {
    this.ctx.write(bufferOf(this.flat.hyper), new Float32Array([h.lr, 1 / h.correction1, 1 / h.correction2, h.decayFactor]));
    this.scalarsSet = true;
  }

  apply(params: readonly Tensor[], grads: readonly (Tensor | null)[], maxNorm: number): void {
    if (!this.scalarsSet) throw new ArgumentError('FusedAdamW.apply: setScalars() must come first');
    checkFusedAdamWLists(this.layout, params, grads);
    const { p, g, m, v, partial, stats, hyper, segs } = this.flat;
    const k = params.length;
    // Host writes happen only when something changed, i.e. not in a step that is being recorded
    // after one that ran as usual (a recording with a write could not be replayed).
    const flags = params.map((_, i) => (this.layout.decay[i] ? 1 : 0) | (grads[i] ? 2 : 0));
    if (!this.flags || flags.some((f, i) => f !== this.flags![i])) {
      this.ctx.write(bufferOf(segs), new Uint32Array([...this.offsets, ...flags]));
      this.flags = flags;
    }
    params.forEach((t, i) => {
      if (this.synced[i] === t.ref.id) return;
      this.ctx.copy(bufferOf(t), 0, bufferOf(p), this.offsets[i]! * 4, t.size * 4);
      this.synced[i] = t.ref.id;
    });
    if (grads.some((x) => !x)) this.ctx.clear(bufferOf(g), this.total * 4); // absent gradients count as zeros in the norm
    grads.forEach((x, i) => x && this.ctx.copy(bufferOf(x), 0, bufferOf(g), this.offsets[i]! * 4, x.size * 4));
    const groups = Math.min(SUMSQ_GROUPS, Math.max(1, Math.ceil(this.total / 256)));
    this.ctx.dispatch(sumSquaresPartialKernel, [bufferOf(g), bufferOf(partial)], new Uniforms(4).u32(this.total).buffer, [groups]);
    const clip = Number.isFinite(maxNorm);
    this.ctx.dispatch(clipScaleKernel, [bufferOf(partial), bufferOf(stats), bufferOf(this.gradNorm)], new Uniforms(12).u32(groups, clip ? 1 : 0).f32(clip ? maxNorm : 0).buffer, [1]);
    const { beta1, beta2, eps } = this.layout;
    this.ctx.dispatch(
      adamwFlatKernel,
      [bufferOf(p), bufferOf(g), bufferOf(m), bufferOf(v), bufferOf(segs), bufferOf(hyper), bufferOf(stats)],
      new Uniforms(28).u32(this.total, k).f32(beta1, 1 - beta1, beta2, 1 - beta2, eps).buffer,
      grid1d(this.total),
    );
    params.forEach((t, i) => grads[i] && this.ctx.copy(bufferOf(p), this.offsets[i]! * 4, bufferOf(t), 0, t.size * 4));
  }

  readMoments(i: number): { m: Tensor; v: Tensor } {
    const n = this.layout.sizes[i]!;
    const out = (src: Tensor) => {
      const t = new Tensor([n], 'f32', new StorageRef(this.backend, this.backend.alloc('f32', n)));
      this.ctx.copy(bufferOf(src), this.offsets[i]! * 4, bufferOf(t), 0, n * 4);
      return t;
    };
    return { m: out(this.flat.m), v: out(this.flat.v) };
  }

  writeMoments(i: number, m: Tensor, v: Tensor): void {
    const n = this.layout.sizes[i]!;
    this.ctx.copy(bufferOf(m), 0, bufferOf(this.flat.m), this.offsets[i]! * 4, n * 4);
    this.ctx.copy(bufferOf(v), 0, bufferOf(this.flat.v), this.offsets[i]! * 4, n * 4);
  }

  dispose(): void {
    for (const t of [...Object.values(this.flat), this.gradNorm]) t.dispose();
  }
}
