/** The check both fused AdamW implementations (cpu/, webgpu/) make of what apply() is given. */
import { ArgumentError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import type { FusedAdamWLayout } from './backend.js';

/** The parameters and gradients must match the layout the optimizer was made for. */
export function checkFusedAdamWLists(layout: FusedAdamWLayout, params: readonly Tensor[], grads: readonly (Tensor | null)[]): void {
  if (params.length !== layout.sizes.length || grads.length !== layout.sizes.length) {
    throw new ArgumentError(`FusedAdamW.apply: ${params.length} parameters and ${grads.length} gradients for a layout of ${layout.sizes.length}`);
  }
  params.forEach((p, i) => {
    const g = grads[i];
    if (p.size !== layout.sizes[i] || p.dtype !== 'f32' || (g && (g.size !== p.size || g.dtype !== 'f32'))) {
      throw new ArgumentError(`FusedAdamW.apply: parameter ${i} must be f32 of ${layout.sizes[i]} elements with a gradient like it`);
    }
  });
}
