/**
 * Checkpoints of a synthetic-task experiment (outDir/checkpoint/), so that a long training can run
 * as many short calls (`mamba-ts experiment -c CONFIG --resume`). The folder is the LM trainer's
 * (train/checkpoint.ts: the model, the optimizer's moments and step, trainer_state.json; written and
 * swapped in atomically, the newest complete version chosen, a damaged one refused by name); its
 * trainer_state.json carries the experiment's own fields besides `step` and `rngState` (the data
 * generator's state before the next step's batch), each checked here before a run continues.
 */
import { FormatError } from '../errors.js';
import { joinPath, readText } from '../io/platform.js';
import type { MambaForCausalLM } from '../models/mamba/modeling.js';
import type { AdamW } from '../train/adamw.js';
import { findCheckpointToResume, loadCheckpoint, saveCheckpoint } from '../train/checkpoint.js';
import { parseTrainerState, TRAINER_STATE_MAX_BYTES } from '../train/trainer-state.js';
import { parseSyntheticConfig, type SyntheticConfig } from './synthetic-config.js';

/** Where in outDir the experiment keeps its checkpoint. */
export const SYNTHETIC_CHECKPOINT_FOLDER = 'checkpoint';

export type SyntheticStop = 'steps' | 'accuracy' | 'time';

export interface SyntheticCurvePoint {
  step: number;
  loss: number;
  accuracy: number;
  seconds: number;
}

/** What a resumed run needs besides the weights and the optimizer. */
export interface SyntheticProgress {
  /** Training steps taken. */
  step: number;
  /** The data generator's state before drawing the batch of step `step + 1`. */
  rngState: number;
  /** The training loss of step `step`. */
  finalLoss: number;
  curve: SyntheticCurvePoint[];
  /** Training seconds over all runs so far. */
  trainSeconds: number;
  /** Runs that trained (the first and each resume that took a step). */
  runs: number;
  /** Set when the run ended there (what ended it); a checkpoint of an evaluation mid-run has null. */
  stoppedBy: SyntheticStop | null;
  /** The config it trained with. */
  config: SyntheticConfig;
}

/**
 * Config fields a resume may change: they do not change what a training step computes (stops,
 * evaluation and test settings, where the folder is, the device it runs on).
 */
const MAY_CHANGE: ReadonlySet<keyof SyntheticConfig> = new Set(['steps', 'maxSeconds', 'stopAccuracy', 'evalInterval', 'testLengths', 'testBatches', 'outDir', 'device']);

export async function saveSyntheticCheckpoint(outDir: string, model: MambaForCausalLM, opt: AdamW, p: SyntheticProgress): Promise<void> {
  await saveCheckpoint(joinPath(outDir, SYNTHETIC_CHECKPOINT_FOLDER), model, opt, { ...p });
}

/**
 * Readies outDir/checkpoint for a resume (finishing a swap a crash interrupted; a damaged version
 * refused by name) and returns the step of the checkpoint there, or null when there is none.
 */
export function findSyntheticCheckpoint(outDir: string): Promise<number | null> {
  return findCheckpointToResume(joinPath(outDir, SYNTHETIC_CHECKPOINT_FOLDER));
}

/**
 * Loads outDir/checkpoint into the model and optimizer (built from `c`) and returns the progress it
 * records. Refused, naming trainer_state.json: a checkpoint past `c.steps`, fields missing or out
 * of range, and a config that differs from `c` in anything that changes training.
 */
export async function loadSyntheticCheckpoint(outDir: string, model: MambaForCausalLM, opt: AdamW, c: SyntheticConfig): Promise<SyntheticProgress> {
  const dir = joinPath(outDir, SYNTHETIC_CHECKPOINT_FOLDER);
  const file = joinPath(dir, 'trainer_state.json');
  // The state is checked before the weights are read: a changed config is refused by its fields
  // (rather than by a shape of config.json), and nothing is loaded.
  const p = checkProgress(parseTrainerState(await readText(file, { maxBytes: TRAINER_STATE_MAX_BYTES, what: 'trainer_state.json' }), file, { maxStep: c.steps }), file);
  checkSameTraining(p.config, c, file);
  await loadCheckpoint(dir, model, opt, { maxStep: c.steps });
  return p;
}

function checkProgress(st: Record<string, unknown>, file: string): SyntheticProgress {
  const fail = (field: string, expected: string): never => {
    throw new FormatError(file, `field "${field}": expected ${expected}`);
  };
  const step = st['step'] as number;
  const num = (k: string, ok: (x: number) => boolean, expected: string): number => {
    const x = st[k];
    if (typeof x !== 'number' || !ok(x)) fail(k, expected);
    return x as number;
  };
  const finalLoss = num('finalLoss', Number.isFinite, 'a finite number (the last step\'s loss)');
  const trainSeconds = num('trainSeconds', (x) => Number.isFinite(x) && x >= 0, 'a number of seconds >= 0');
  const runs = num('runs', (x) => Number.isSafeInteger(x) && x >= 1, 'an integer >= 1 (the runs that trained)');
  const stoppedBy = st['stoppedBy'];
  if (stoppedBy !== null && stoppedBy !== 'steps' && stoppedBy !== 'accuracy' && stoppedBy !== 'time') fail('stoppedBy', 'null, "steps", "accuracy" or "time"');
  const curve = st['curve'];
  if (!Array.isArray(curve)) fail('curve', 'an array of { step, loss, accuracy, seconds }');
  let last = 0;
  (curve as unknown[]).forEach((q, i) => {
    const r = (q ?? {}) as Record<string, unknown>;
    const s = r['step'];
    if (typeof s !== 'number' || !Number.isSafeInteger(s) || s <= last || s > step) fail(`curve[${i}].step`, `an integer in (${last}, ${step}] (steps increase, up to the checkpoint's)`);
    for (const k of ['loss', 'accuracy', 'seconds']) if (typeof r[k] !== 'number' || !Number.isFinite(r[k])) fail(`curve[${i}].${k}`, 'a finite number');
    last = s as number;
  });
  let config: SyntheticConfig;
  try {
    config = parseSyntheticConfig(st['config'], `${file} (field "config")`);
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new FormatError(file, `field "config": ${(e as Error).message}`);
  }
  return { step, rngState: st['rngState'] as number, finalLoss, curve: curve as SyntheticCurvePoint[], trainSeconds, runs, stoppedBy: stoppedBy as SyntheticStop | null, config };
}

/** Every field but MAY_CHANGE's must be the checkpoint's (objects compared by content, key order aside). */
function checkSameTraining(saved: SyntheticConfig, now: SyntheticConfig, file: string): void {
  const keys = new Set([...Object.keys(saved), ...Object.keys(now)] as (keyof SyntheticConfig)[]);
  const differ = [...keys].filter((k) => !MAY_CHANGE.has(k) && canonical(saved[k]) !== canonical(now[k])).sort();
  if (differ.length) {
    const show = (v: unknown) => (v === undefined ? 'unset' : canonical(v));
    const what = differ.map((k) => `"${k}" ${show(saved[k])} in the checkpoint but ${show(now[k])} in the config`).join('; ');
    throw new FormatError(
      file,
      `the checkpoint was trained with another config (${what}): resuming would not continue the same training. Resume with the checkpoint's values (only ${[...MAY_CHANGE].join(', ')} may change), or start over with --overwrite`,
    );
  }
}

/** JSON with object keys sorted, so that { a, b } and { b, a } compare equal. */
function canonical(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}
