/**
 * The autograd tape (PyTorch-like, define-by-run). Ops record a node when an input requires a
 * gradient and recording is on; `backward()` (backward.ts) walks the nodes in reverse.
 *
 * Graph links go through `GradRef`s, not tensors, so disposing an intermediate tensor (e.g. by
 * `tidy`) does not break the graph; the tensors a backward rule needs are saved as aliases that
 * share storage and belong to the tape until the node is released.
 */
import type { Tensor } from '../tensor/tensor.js';
import { Tensor as TensorClass } from '../tensor/tensor.js';
import { keep } from '../tensor/memory.js';

/** Where a leaf's gradient accumulates (a Parameter, or a tensor marked with requiresGrad). */
export interface GradSlot {
  grad: Tensor | null;
}

/** How the gradients of a node's outputs become gradients of its inputs. */
export interface GradNode {
  readonly op: string;
  /** One entry per input: its ref when it needs a gradient, else null. */
  readonly inputs: (GradRef | null)[];
  readonly outputs: number;
  /** Gradients of the outputs (null: that output did not reach the loss) → gradients of the inputs. */
  backward(grads: (Tensor | null)[]): (Tensor | null)[];
  /** Frees what the node saved. */
  release(): void;
}

/** What a tensor that requires a gradient carries: its producer (output `index` of `node`), or a leaf slot. */
export class GradRef {
  constructor(
    readonly node: GradNode | null,
    readonly index: number,
    readonly leaf: GradSlot | null,
  ) {}
}

const refs = new WeakMap<Tensor, GradRef>();
let recording = true;

export function gradRefOf(t: Tensor): GradRef | undefined {
  return refs.get(t);
}

/** True when gradients flow into `t` (a leaf that requires grad, or the result of recorded ops). */
export function requiresGrad(t: Tensor | null | undefined): boolean {
  return !!t && refs.has(t);
}

/** Makes `t` a leaf whose gradient accumulates into `slot`. */
export function markLeaf(t: Tensor, slot: GradSlot): void {
  refs.set(t, new GradRef(null, 0, slot));
}

/** Undoes markLeaf: `t` is a constant to the tape again (a parameter whose requiresGrad was turned off). */
export function unmarkLeaf(t: Tensor): void {
  refs.delete(t);
}

export function isRecording(): boolean {
  return recording;
}

/** Runs `fn` without recording (inference, optimizer updates, backward rules themselves). */
export function noGrad<R>(fn: () => R): R {
  const was = recording;
  recording = false;
  try {
    return fn();
  } finally {
    recording = was;
  }
}

/**
 * A tensor kept for a backward rule: an alias sharing `t`'s storage, outside every tidy scope, so
 * that disposing `t` does not free what the tape still needs.
 */
export function saveForBackward(t: Tensor): Tensor {
  t.ref.retain();
  return keep(new TensorClass(t.shape, t.dtype, t.ref));
}

/**
 * Records an op: when recording is on and some input requires a gradient, `outputs` get refs to a
 * node whose backward is `rule`. `saved` tensors (from saveForBackward) are freed with the node.
 */
export function record(
  op: string,
  inputs: (Tensor | null | undefined)[],
  outputs: Tensor[],
  rule: (grads: (Tensor | null)[]) => (Tensor | null)[],
  saved: Tensor[] = [],
): void {
  const node: GradNode = {
    op,
    inputs: inputs.map((t) => (t ? (refs.get(t) ?? null) : null)),
    outputs: outputs.length,
    backward: rule,
    release: () => {
      for (const s of saved) s.dispose();
      saved.length = 0;
    },
  };
  outputs.forEach((o, i) => refs.set(o, new GradRef(node, i, null)));
}

/** True when an op on these inputs must be recorded. */
export function shouldRecord(...inputs: (Tensor | null | undefined)[]): boolean {
  return recording && inputs.some((t) => !!t && refs.has(t));
}

/**
 * For ops without a backward rule yet: fails loudly when a gradient would have to flow through,
 * instead of silently cutting the graph.
 */
export function noBackwardYet(op: string, ...inputs: (Tensor | null | undefined)[]): void {
  if (shouldRecord(...inputs)) throw new Error(`${op}: no backward rule yet; run it under noGrad() or without parameters that require gradients`);
}

/**
 * Drops the graph that produced `t` without computing gradients (a forward pass whose loss will
 * not be backpropagated): every node reachable from `t` frees what it saved.
 */
export function releaseGraph(t: Tensor): void {
  const seen = new Set<GradNode>();
  const stack: (GradRef | null)[] = [refs.get(t) ?? null];
  while (stack.length) {
    const n = stack.pop()?.node;
    if (!n || seen.has(n)) continue;
    seen.add(n);
    n.release();
    stack.push(...n.inputs);
  }
  refs.delete(t);
}
