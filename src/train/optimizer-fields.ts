/**
 * The optimiser and schedule fields that `mamba-ts train` and `mamba-ts experiment` configs share,
 * read with their checks: each error names the file and the field.
 */
import { FormatError } from '../errors.js';
import type { ConfigReader } from '../models/config-fields.js';

export interface OptimizerFields {
  lr: number;
  minLr: number;
  warmupSteps: number;
  weightDecay: number;
  gradClip: number;
}

/**
 * The fields (defaults `d` where absent; a default warm-up longer than `steps` becomes a tenth of them), and that
 * they agree with each other and with `steps`.
 */
export function readOptimizerFields(r: ConfigReader, d: OptimizerFields, steps: number): OptimizerFields {
  const o: OptimizerFields = {
    lr: r.number('lr', d.lr, (x) => x > 0, 'a number > 0'),
    minLr: r.number('minLr', d.minLr, (x) => x >= 0, 'a number >= 0'),
    // An explicit warm-up longer than the run is a contradiction; a default one longer than the
    // run shrinks to a tenth of it, so a 30-step smoke test needs no warm-up field.
    warmupSteps: r.int('warmupSteps', d.warmupSteps <= steps ? d.warmupSteps : Math.floor(steps / 10), 0),
    weightDecay: r.number('weightDecay', d.weightDecay, (x) => x >= 0, 'a number >= 0'),
    gradClip: r.number('gradClip', d.gradClip, (x) => x > 0, 'a number > 0'),
  };
  if (o.minLr > o.lr) throw new FormatError(r.source, `fields "minLr" (${o.minLr}) and "lr" (${o.lr}) contradict: minLr must not exceed lr`);
  if (o.warmupSteps > steps) throw new FormatError(r.source, `field "warmupSteps" (${o.warmupSteps}) exceeds "steps" (${steps})`);
  return o;
}
