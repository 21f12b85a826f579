/**
 * A training run never replaces what an earlier run saved unless asked to: a folder that already
 * holds a checkpoint (or a trained model) is refused unless the run resumes from it or the caller
 * says to overwrite it.
 */
import { ArgumentError } from '../errors.js';
import { exists, joinPath } from '../io/platform.js';

export interface OutputPolicy {
  /** Continue from the checkpoint found there (only where the trainer can resume). */
  resume?: boolean;
  /** Replace what is there. */
  overwrite?: boolean;
}

/**
 * Throws when `dir` holds earlier output (`marker`: a file in it, e.g. `config.json`, or a test such
 * as holdsCheckpoint) and neither `resume` (where the trainer supports it) nor `overwrite` was given;
 * `command` (`train`, `experiment`) begins the message.
 */
export async function refuseExistingOutput(dir: string, marker: string | ((dir: string) => Promise<boolean>), o: OutputPolicy, canResume: boolean, command = 'train'): Promise<void> {
  if (o.overwrite || (o.resume && canResume)) return;
  const holds = typeof marker === 'string' ? await exists(joinPath(dir, marker)) : await marker(dir);
  if (!holds) return;
  const ways = canResume
    ? '--resume (resume: true) to continue from it, or --overwrite (overwrite: true) to start over and replace it'
    : '--overwrite (overwrite: true) to replace it (this task cannot resume)';
  throw new ArgumentError(`${command}: ${dir} already holds a ${canResume ? 'checkpoint' : 'trained model'} from an earlier run; pass ${ways}, or choose another outDir`);
}
