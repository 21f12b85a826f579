/** Learning-rate schedules. */

export interface WarmupCosine {
  /** Peak learning rate, reached at the end of warm-up. */
  lr: number;
  warmupSteps: number;
  totalSteps: number;
  /** Floor at the end of the cosine (default lr / 10). */
  minLr?: number;
}

/** Linear warm-up from 0 to lr, then cosine decay to minLr at totalSteps (and minLr after). */
export function warmupCosine(step: number, s: WarmupCosine): number {
  const minLr = s.minLr ?? s.lr / 10;
  if (step < s.warmupSteps) return (s.lr * (step + 1)) / s.warmupSteps;
  if (step >= s.totalSteps) return minLr;
  const progress = (step - s.warmupSteps) / Math.max(1, s.totalSteps - s.warmupSteps);
  return minLr + 0.5 * (s.lr - minLr) * (1 + Math.cos(Math.PI * progress));
}
