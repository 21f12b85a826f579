/**
 * AdamW (Loshchilov & Hutter): Adam's moments with decoupled weight decay,
 *   m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,  p ← p − lr·(m̂ / (√v̂ + ε) + λ·p)
 * with no decay on the parameters the Mamba reference exempts: A_log, D, norms, biases and
 * embeddings. Updates run without recording; each replaces the parameter's tensor.
 */
import { noGrad } from '../autograd/tape.js';
import type { Parameter } from '../nn/module.js';
import type { AdamWScalars, FusedAdamW } from '../backend/backend.js';
import { add, affine, div, mul, scale, sqrt, sub } from '../ops/elementwise.js';
import { sum } from '../ops/reduce.js';
import { reshape } from '../ops/shape.js';
import { keep, tidy } from '../tensor/memory.js';
import { StorageRef, Tensor } from '../tensor/tensor.js';
import { checkOptionKeys, optionKeys } from '../options.js';
import { ArgumentError } from '../errors.js';

export interface AdamWOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /** Names exempt from weight decay; default: Mamba's rule (A_log, D, norms, biases, embeddings). */
  noDecay?: (name: string) => boolean;
}

/** The keys of AdamWOptions (checked against the interface at compile time). */
export const ADAMW_OPTION_KEYS = optionKeys<AdamWOptions>({ lr: true, betas: true, eps: true, weightDecay: true, noDecay: true });

export function mambaNoDecay(name: string): boolean {
  return /(^|\.)(A_log|D)$/.test(name) || /norm/.test(name) || name.endsWith('.bias') || /embed/.test(name);
}

interface Slot {
  name: string;
  p: Parameter;
  m: Tensor | null;
  v: Tensor | null;
  decay: boolean;
}

export class AdamW {
  lr: number;
  private readonly b1: number;
  private readonly b2: number;
  private readonly eps: number;
  private readonly wd: number;
  private readonly slots: Slot[];
  /** The fused optimizer (undefined until the first step asks for it; null where there is none). */
  private fused: FusedAdamW | null | undefined = undefined;
  step = 0;

  constructor(params: [string, Parameter][], o: AdamWOptions = {}) {
    checkOptionKeys('AdamW', o, ADAMW_OPTION_KEYS);
    this.lr = o.lr ?? 1e-3;
    [this.b1, this.b2] = o.betas ?? [0.9, 0.999];
    this.eps = o.eps ?? 1e-8;
    this.wd = o.weightDecay ?? 0.01;
    const noDecay = o.noDecay ?? mambaNoDecay;
    this.slots = params.map(([name, p]) => ({ name, p, m: null, v: null, decay: !noDecay(name) }));
  }

  /**
   * Applies one update from the parameters' .grad (parameters without one are skipped): all
   * parameters in one fused pass where the backend has it (see beginStep / applyFused; it skips a
   * step whose gradients are not finite), else in place per parameter where the backend has that
   * kernel, else one op per term.
   */
  update(): void {
    this.beginStep();
    if (this.fusedOptimizer()) this.applyFused(Infinity);
    else this.applyPerParameter();
  }

  /**
   * The fused optimizer over all parameters (Backend.createFusedAdamW), made at the first call;
   * null where the backend has none or the parameters are not all float32 on one backend.
   */
  fusedOptimizer(): FusedAdamW | null {
    if (this.fused !== undefined) return this.fused;
    const values = this.slots.map((s) => (s.p.isSet ? s.p.value : null));
    const backend = values[0]?.backend;
    const fits = backend?.createFusedAdamW && values.every((v) => v !== null && v.backend === backend && v.dtype === 'f32');
    this.fused = fits ? backend.createFusedAdamW!({ sizes: values.map((v) => v!.size), decay: this.slots.map((s) => s.decay), beta1: this.b1, beta2: this.b2, eps: this.eps }) : null;
    // Moments loaded (or made per parameter) before: into the fused optimizer's own.
    if (this.fused) {
      this.slots.forEach((s, i) => {
        if (s.m && s.v) this.fused!.writeMoments(i, s.m, s.v);
        s.m?.dispose();
        s.v?.dispose();
        s.m = s.v = null;
      });
    }
    return this.fused;
  }

  /**
   * Host side of a step: counts it and hands the fused optimizer its scalars (learning rate, bias
   * corrections, decay factor), which it writes to the device. The device work is applyFused's, so
   * that a recorded step can be replayed after each beginStep.
   */
  beginStep(): void {
    this.step++;
    const fused = this.fusedOptimizer();
    if (!fused) return;
    fused.setScalars(this.scalars());
    // The copies of the moments a checkpoint read (state()) are stale from here on: free them
    // rather than hold a second copy of every moment until the next checkpoint.
    for (const s of this.slots) {
      s.m?.dispose();
      s.v?.dispose();
      s.m = s.v = null;
    }
  }

  /**
   * The fused step's device work (after beginStep): clip the gradients' norm to maxNorm (Infinity:
   * no clipping) and update every parameter with a gradient, skipping all of it when the norm is
   * not finite. Returns the norm before clipping, as a device tensor (1) the optimizer owns.
   */
  applyFused(maxNorm: number): Tensor {
    const fused = this.fusedOptimizer();
    if (!fused) throw new ArgumentError('AdamW.applyFused: the parameters\' backend has no fused AdamW (use update())');
    fused.apply(this.slots.map((s) => s.p.value), this.slots.map((s) => s.p.grad), maxNorm);
    this.markChanged(this.slots.filter((s) => s.p.grad).map((s) => s.p));
    return fused.gradNorm;
  }

  /**
   * After a replayed step (replayed-step.ts), which ran no JavaScript: every parameter changed in
   * place (its gradient was a temporary of the recording), so caches keyed on it must refresh.
   */
  markReplayedStep(): void {
    this.markChanged(this.slots.map((s) => s.p));
  }

  /** Bumps the parameters' versions and drops what the backend derived from their old contents. */
  private markChanged(params: Parameter[]): void {
    for (const p of params) p.markUpdated();
    const values = params.map((p) => p.value);
    values[0]?.backend.contentsChanged?.(values);
  }

  private scalars(): AdamWScalars {
    return {
      lr: this.lr,
      beta1: this.b1,
      beta2: this.b2,
      eps: this.eps,
      correction1: 1 - this.b1 ** this.step,
      correction2: 1 - this.b2 ** this.step,
      decayFactor: this.wd > 0 ? 1 - this.lr * this.wd : 1,
    };
  }

  private applyPerParameter(): void {
    const c1 = 1 - this.b1 ** this.step;
    const c2 = 1 - this.b2 ** this.step;
    noGrad(() => {
      for (const s of this.slots) {
        const g = s.p.grad;
        if (!g) continue;
        const backend = g.backend;
        if (backend.adamwUpdate && s.p.value.backend === backend && s.p.value.dtype === 'f32') {
          s.m ??= keep(zerosLike(g));
          s.v ??= keep(zerosLike(g));
          const decayFactor = s.decay && this.wd > 0 ? 1 - this.lr * this.wd : 1;
          backend.adamwUpdate(s.p.value, g, s.m, s.v, { lr: this.lr, beta1: this.b1, beta2: this.b2, eps: this.eps, correction1: c1, correction2: c2, decayFactor });
          s.p.markUpdated();
          backend.contentsChanged?.([s.p.value]);
          continue;
        }
        const [m, v, next] = tidy(() => {
          const m = s.m ? add(scale(s.m, this.b1), scale(g, 1 - this.b1)) : scale(g, 1 - this.b1);
          const v = s.v ? add(scale(s.v, this.b2), scale(mul(g, g), 1 - this.b2)) : scale(mul(g, g), 1 - this.b2);
          const stepDir = div(scale(m, 1 / c1), affine(sqrt(scale(v, 1 / c2)), 1, this.eps));
          const p = s.p.value;
          const decayed = s.decay && this.wd > 0 ? scale(p, 1 - this.lr * this.wd) : p;
          return [m, v, sub(decayed, scale(stepDir, this.lr))];
        });
        s.m?.dispose();
        s.v?.dispose();
        s.m = keep(m);
        s.v = keep(v);
        s.p.set(next);
      }
    });
  }

  /** Moments by parameter name (for checkpoints), and the step count. */
  state(): { step: number; m: Map<string, Tensor>; v: Map<string, Tensor> } {
    // The fused optimizer's moments: copied out into the slots (the optimizer's until the next step).
    if (this.fused && this.step > 0) {
      this.slots.forEach((s, i) => {
        s.m?.dispose();
        s.v?.dispose();
        const { m, v } = this.fused!.readMoments(i);
        s.m = keep(m);
        s.v = keep(v);
      });
    }
    const m = new Map<string, Tensor>();
    const v = new Map<string, Tensor>();
    for (const s of this.slots) {
      if (s.m) m.set(s.name, s.m);
      if (s.v) v.set(s.name, s.v);
    }
    return { step: this.step, m, v };
  }

  /**
   * Restores what state() gave (tensors are taken over by the optimizer). Checked first, so that a
   * bad state changes nothing: `step` an integer >= 0, every name one of the parameters', each
   * parameter with both moments or neither (a lone exp_avg would silently restart exp_avg_sq at
   * zero), f32 tensors of the parameter's shape.
   */
  loadState(st: { step: number; m: Map<string, Tensor>; v: Map<string, Tensor> }): void {
    if (!Number.isSafeInteger(st.step) || st.step < 0) throw new ArgumentError(`AdamW.loadState: step must be an integer >= 0, got ${st.step}`);
    const slots = new Map(this.slots.map((s) => [s.name, s]));
    for (const [which, map] of [['m', st.m], ['v', st.v]] as const) {
      for (const [name, t] of map) {
        const s = slots.get(name);
        if (!s) throw new ArgumentError(`AdamW.loadState: ${which} has ${name}, which is not one of the optimizer's parameters`);
        if (t.dtype !== 'f32' || t.shape.length !== s.p.shape.length || t.shape.some((d, i) => d !== s.p.shape[i])) {
          throw new ArgumentError(`AdamW.loadState: ${which}[${name}] is ${t.dtype} [${t.shape.join(', ')}], expected f32 [${s.p.shape.join(', ')}] like the parameter`);
        }
      }
    }
    for (const name of slots.keys()) {
      if (st.m.has(name) !== st.v.has(name)) {
        throw new ArgumentError(`AdamW.loadState: ${name} has ${st.m.has(name) ? 'm (exp_avg) but no v (exp_avg_sq)' : 'v (exp_avg_sq) but no m (exp_avg)'}; a parameter needs both moments or neither`);
      }
    }
    this.step = st.step;
    this.slots.forEach((s, i) => {
      s.m?.dispose();
      s.v?.dispose();
      s.m = st.m.has(s.name) ? keep(st.m.get(s.name)!) : null;
      s.v = st.v.has(s.name) ? keep(st.v.get(s.name)!) : null;
      // Into the fused optimizer's buffers: zeros where the state has none.
      if (this.fused) {
        const m = s.m ?? keep(zerosLike(s.p.value));
        const v = s.v ?? keep(zerosLike(s.p.value));
        this.fused.writeMoments(i, m, v);
        m.dispose();
        v.dispose();
        s.m = s.v = null;
      }
    });
  }

  dispose(): void {
    this.fused?.dispose();
    this.fused = null;
    for (const s of this.slots) {
      s.m?.dispose();
      s.v?.dispose();
      s.m = s.v = null;
    }
  }
}

/** Scales all gradients so that their global L2 norm is at most maxNorm; returns the norm before. */
export async function clipGradNorm(params: Parameter[], maxNorm: number): Promise<number> {
  const grads = params.map((p) => p.grad).filter((g): g is Tensor => g !== null);
  const norm = Math.sqrt(await sumOfSquares(grads));
  if (norm > maxNorm) {
    const f = maxNorm / (norm + 1e-6);
    noGrad(() => {
      for (const p of params) {
        if (!p.grad) continue;
        const inPlace = p.grad.backend.scaleInPlace;
        if (inPlace) {
          inPlace.call(p.grad.backend, p.grad, f);
          continue;
        }
        const scaled = keep(scale(p.grad, f));
        p.grad.dispose();
        p.grad = scaled;
      }
    });
  }
  return norm;
}

/** Σ g² over all the gradients: one pass per tensor where the backend has it, else with ops. */
async function sumOfSquares(grads: Tensor[]): Promise<number> {
  if (grads.length === 0) return 0;
  const backend = grads[0]!.backend;
  if (backend.sumOfSquares && grads.every((g) => g.backend === backend && g.dtype === 'f32')) return backend.sumOfSquares(grads);
  const total = noGrad(() => tidy(() => grads.map((g) => sum(reshape(mul(g, g), [1, g.size]))).reduce((a, b) => add(a, b))));
  const s = (await total.data())[0]!;
  total.dispose();
  return s;
}

function zerosLike(t: Tensor): Tensor {
  return new Tensor([...t.shape], 'f32', new StorageRef(t.backend, t.backend.alloc('f32', t.size)));
}
