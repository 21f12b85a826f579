/**
 * Modules hold named parameters and child modules, so that a parameter's full name is the HF
 * tensor name (`backbone.layers.3.mixer.A_log`) with no mapping table.
 */
import { ArgumentError } from '../errors.js';
import { formatShape, shapeEquals, type Shape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { keep } from '../tensor/memory.js';
import { markLeaf, unmarkLeaf, type GradSlot } from '../autograd/tape.js';
import { isHalf } from '../tensor/dtype.js';

/**
 * Training computes float32 gradients and updates float32 values: a bf16/f16 weight (kept packed
 * for inference on WebGPU) is unpacked once when its parameter starts requiring gradients.
 */
function unpacked(t: Tensor): Tensor {
  const f = t.backend.cast(t, 'f32');
  t.dispose();
  return f;
}

/** A named slot for a tensor of a fixed shape; empty until loaded or initialised. */
export class Parameter implements GradSlot {
  private t: Tensor | null = null;
  /** Accumulated by backward() while requiresGrad is on; cleared by zeroGrad(). */
  grad: Tensor | null = null;
  private trainable = false;
  /** Bumped on every set(), so derived tensors can be cached against it. */
  version = 0;
  /**
   * @param packable the value may stay bf16/f16 on backends that unpack halves in kernels (large
   *   matmul and embedding weights); everything else is float32.
   */
  constructor(
    readonly shape: Shape,
    readonly packable = false,
  ) {}

  get value(): Tensor {
    if (!this.t) throw new Error(`parameter of shape ${formatShape(this.shape)} was used before it was loaded or initialised`);
    return this.t;
  }
  get isSet(): boolean {
    return this.t !== null;
  }
  /** Replaces the value (disposing the old one); the shape must match. */
  set(t: Tensor, name = 'parameter'): void {
    if (!shapeEquals(t.shape, this.shape)) {
      throw new ArgumentError(`${name}: expected shape ${formatShape(this.shape)}, got ${formatShape(t.shape)}`);
    }
    if (t.dtype !== 'f32' && !(this.packable && isHalf(t.dtype))) {
      throw new ArgumentError(`${name}: expected an f32 parameter${this.packable ? ' (or bf16/f16)' : ''}, got ${t.dtype}`);
    }
    if (this.trainable && isHalf(t.dtype)) t = unpacked(t);
    this.t?.dispose();
    this.t = keep(t);
    this.version++;
    if (this.trainable) markLeaf(t, this);
  }
  /** Records that the value changed in place (an optimizer step), so that caches keyed on `version` refresh. */
  markUpdated(): void {
    this.version++;
  }
  /** Whether backward() computes this parameter's gradient (off by default: inference records nothing). */
  get requiresGrad(): boolean {
    return this.trainable;
  }
  set requiresGrad(on: boolean) {
    this.trainable = on;
    if (on && this.t && isHalf(this.t.dtype)) this.set(this.t.backend.cast(this.t, 'f32'));
    else if (on && this.t) markLeaf(this.t, this);
    // Off again: ops on the value stop recording (a forward after training built a graph and kept it).
    else if (!on && this.t) unmarkLeaf(this.t);
  }

  zeroGrad(): void {
    this.grad?.dispose();
    this.grad = null;
  }

  dispose(): void {
    this.t?.dispose();
    this.t = null;
    this.zeroGrad();
  }
}

export abstract class Module {
  private readonly params = new Map<string, Parameter>();
  private readonly children = new Map<string, Module>();
  training = false;

  protected param(name: string, shape: Shape, packable = false): Parameter {
    const p = new Parameter(shape, packable);
    this.params.set(name, p);
    return p;
  }
  protected child<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }
  /** Registers a list of modules under `name.0`, `name.1`, ... (PyTorch's ModuleList). */
  protected childList<M extends Module>(name: string, ms: M[]): M[] {
    ms.forEach((m, i) => this.children.set(`${name}.${i}`, m));
    return ms;
  }

  /** Every parameter with its full dotted name, in registration order. */
  namedParameters(prefix = ''): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    for (const [n, p] of this.params) out.push([prefix + n, p]);
    for (const [n, m] of this.children) out.push(...m.namedParameters(`${prefix}${n}.`));
    return out;
  }

  parameterCount(): number {
    return this.namedParameters().reduce((s, [, p]) => s + p.shape.reduce((a, b) => a * b, 1), 0);
  }

  /** name → tensor, for saving. */
  stateDict(): Map<string, Tensor> {
    return new Map(this.namedParameters().map(([n, p]) => [n, p.value]));
  }

  /** Turns gradient computation on (or off) for every parameter. */
  requiresGrad_(on = true): this {
    for (const [, p] of this.namedParameters()) p.requiresGrad = on;
    return this;
  }

  zeroGrad(): void {
    for (const [, p] of this.namedParameters()) p.zeroGrad();
  }

  train(on = true): this {
    this.training = on;
    for (const m of this.children.values()) m.train(on);
    return this;
  }
  eval(): this {
    return this.train(false);
  }

  dispose(): void {
    for (const p of this.params.values()) p.dispose();
    for (const m of this.children.values()) m.dispose();
  }
}
