/**
 * `backward(loss)`: walks the recorded graph from `loss` in reverse topological order, calling each
 * node's rule with the gradients of its outputs and accumulating into leaf slots (`.grad`).
 * Intermediate gradients are disposed as soon as they are consumed; nodes release what they saved.
 */
import { ArgumentError } from '../errors.js';
import { add } from '../ops/elementwise.js';
import { filled } from '../ops/random.js';
import { keep, tidy } from '../tensor/memory.js';
import { shapeEquals, formatShape } from '../tensor/shape.js';
import { setBackwardImpl, type Tensor } from '../tensor/tensor.js';
import { reduceTo } from './reduce-to.js';
import { gradRefOf, noGrad, saveForBackward, type GradNode, type GradRef } from './tape.js';

export function backward(loss: Tensor, grad?: Tensor): void {
  const root = gradRefOf(loss);
  if (!root) throw new ArgumentError('backward: the tensor does not require a gradient (no parameter with requiresGrad reached it)');
  if (!grad && loss.size !== 1) throw new ArgumentError(`backward: a gradient must be given for a non-scalar ${formatShape(loss.shape)}`);
  noGrad(() => {
    const seed = grad ?? filled(loss.shape, 1, { device: loss.device as 'cpu' | 'webgpu' });
    // Order the nodes: depth-first post-order from the root, reversed.
    const order: GradNode[] = [];
    const seen = new Set<GradNode>();
    const visit = (ref: GradRef | null): void => {
      const n = ref?.node;
      if (!n || seen.has(n)) return;
      seen.add(n);
      for (const i of n.inputs) visit(i);
      order.push(n);
    };
    visit(root);
    const pending = new Map<GradNode, (Tensor | null)[]>();
    const accumulate = (ref: GradRef, g: Tensor): void => {
      if (ref.leaf) {
        const slot = ref.leaf;
        const prev = slot.grad;
        slot.grad = prev ? keep(tidy(() => add(prev, g))) : keep(g);
        if (prev) {
          prev.dispose();
          g.dispose();
        }
        return;
      }
      const list = pending.get(ref.node!) ?? new Array<Tensor | null>(ref.node!.outputs).fill(null);
      const prev = list[ref.index];
      list[ref.index] = prev ? tidy(() => add(prev, g)) : g;
      if (prev) {
        prev.dispose();
        g.dispose();
      }
      pending.set(ref.node!, list);
    };
    accumulate(root, grad ? saveForBackward(seed) : seed);
    for (let k = order.length - 1; k >= 0; k--) {
      const node = order[k]!;
      const grads = pending.get(node);
      pending.delete(node);
      if (grads && grads.some((g) => g)) {
        // A rule may pass a gradient through unchanged (add) or return one tensor twice: every
        // consumer gets its own alias, so each can be disposed independently.
        const seenGrads = new Set<Tensor>(grads.filter((g): g is Tensor => g !== null));
        // tidy: the rule's intermediates go; what it returns stays.
        const inGrads = tidy(() => node.backward(grads)).map((g) => {
          if (!g) return g;
          if (seenGrads.has(g)) return saveForBackward(g);
          seenGrads.add(g);
          return g;
        });
        for (const g of grads) g?.dispose();
        node.inputs.forEach((ref, i) => {
          const g = inGrads[i];
          if (!g) return;
          if (!ref) {
            g.dispose();
            return;
          }
          accumulate(ref, g);
        });
      }
      node.release();
    }
  });
}

/** Sums `g` over the axes along which an input of `shape` was broadcast, giving that shape. */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (shapeEquals(g.shape, shape)) return g;
  return reduceTo(g, shape);
}

setBackwardImpl(backward);
