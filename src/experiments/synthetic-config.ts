/** The configuration of a synthetic-task experiment (`mamba-ts experiment --config FILE.json`). */
import { FormatError } from '../errors.js';
import { unknownFieldsMessage } from '../options.js';
import { ConfigReader } from '../models/config-fields.js';
import { readOptimizerFields, type OptimizerFields } from '../train/optimizer-fields.js';
import type { SyntheticTask } from './synthetic-tasks.js';

/** `warmup-cosine`: linear warm-up to lr, cosine to minLr; `constant`: lr at every step (the paper's). */
export type SyntheticSchedule = 'warmup-cosine' | 'constant';

/** `answers`: the loss of the answer positions only; `next-token`: of every position (nextTokenTargets). */
export type SyntheticTrainOn = 'answers' | 'next-token';

export interface SyntheticConfig extends OptimizerFields {
  task: SyntheticTask;
  schedule: SyntheticSchedule;
  /** Which positions the training loss scores (default `answers`). */
  trainOn: SyntheticTrainOn;
  /** HF MambaConfig fields (vocab_size is `vocab`); `selective: false` gives the LTI ablation. */
  model: Record<string, unknown>;
  vocab: number;
  /** Selective copying: data tokens to memorise. */
  memorize: number;
  trainLength: number;
  steps: number;
  batchSize: number;
  evalInterval: number;
  /** Sequence lengths at which accuracy is measured at the end. */
  testLengths: number[];
  testBatches: number;
  testBatchSize: number;
  seed: number;
  device: 'cpu' | 'webgpu' | 'auto';
  outDir: string;
  /**
   * Optional budgets: stop once the accuracy at an evaluation reaches `stopAccuracy` (the issue's
   * "until S6 ≥ 99%"), or once training has run `maxSeconds` (checked every step; one more
   * evaluation then). Either way the model is saved and tested as at the last step; results.json
   * says which stopped it.
   */
  stopAccuracy?: number;
  maxSeconds?: number;
  /**
   * Optional: a trained model's folder (config.json and weights, e.g. models/selective-copying-1056-s6
   * or an experiment's outDir/model) of the same architecture, whose weights start this run instead
   * of the seed's initialisation — a length curriculum (train at 1,056, go on at 4,128). The paper
   * trains each length from scratch; a run that uses this says so in its results.json (the config).
   */
  initFrom?: string;
}

const DEFAULTS = {
  vocab: 16,
  memorize: 16,
  trainLength: 256,
  steps: 2000,
  batchSize: 32,
  lr: 2e-3,
  minLr: 1e-4,
  warmupSteps: 100,
  weightDecay: 0.1,
  gradClip: 1,
  evalInterval: 200,
  testBatches: 4,
  testBatchSize: 16,
  seed: 0,
};

export function parseSyntheticConfig(raw: unknown, source: string): SyntheticConfig {
  const fail = (m: string): never => {
    throw new FormatError(source, m);
  };
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail('expected a JSON object');
  const r = raw as Record<string, unknown>;
  const known = new Set([...Object.keys(DEFAULTS), 'task', 'schedule', 'trainOn', 'model', 'testLengths', 'device', 'outDir', 'stopAccuracy', 'maxSeconds', 'initFrom']);
  const unknown = Object.keys(r).filter((k) => !known.has(k));
  if (unknown.length) fail(unknownFieldsMessage(unknown, [...known]));
  const task = r['task'];
  if (task !== 'selective-copying' && task !== 'induction-heads') fail(`field "task": expected "selective-copying" or "induction-heads", got ${JSON.stringify(task)}`);
  const schedule = r['schedule'] ?? 'warmup-cosine';
  if (schedule !== 'warmup-cosine' && schedule !== 'constant') fail(`field "schedule": expected "warmup-cosine" or "constant", got ${JSON.stringify(schedule)}`);
  const trainOn = r['trainOn'] ?? 'answers';
  if (trainOn !== 'answers' && trainOn !== 'next-token') fail(`field "trainOn": expected "answers" or "next-token", got ${JSON.stringify(trainOn)}`);
  const model = r['model'] ?? {};
  if (typeof model !== 'object' || model === null || Array.isArray(model)) fail('field "model": expected an object of MambaConfig fields');
  const cr = new ConfigReader(r, source);
  const int = (k: 'vocab' | 'memorize' | 'trainLength' | 'steps' | 'batchSize' | 'evalInterval' | 'testBatches' | 'testBatchSize' | 'seed', min: number) =>
    cr.int(k, DEFAULTS[k], min);
  const steps = int('steps', 1);
  const c: SyntheticConfig = {
    task: task as SyntheticTask,
    schedule: schedule as SyntheticSchedule,
    trainOn: trainOn as SyntheticTrainOn,
    model: model as Record<string, unknown>,
    vocab: int('vocab', 3),
    memorize: int('memorize', 1),
    trainLength: int('trainLength', 6),
    steps,
    batchSize: int('batchSize', 1),
    ...readOptimizerFields(cr, DEFAULTS, steps),
    evalInterval: int('evalInterval', 1),
    testLengths: (r['testLengths'] ?? [DEFAULTS.trainLength]) as number[],
    testBatches: int('testBatches', 1),
    testBatchSize: int('testBatchSize', 1),
    seed: int('seed', 0),
    device: (r['device'] ?? 'cpu') as SyntheticConfig['device'],
    outDir: r['outDir'] as string,
  };
  if (cr.has('stopAccuracy')) c.stopAccuracy = cr.number('stopAccuracy', undefined, (x) => x >= 0 && x <= 1, 'a number in [0, 1]');
  if (cr.has('maxSeconds')) c.maxSeconds = cr.number('maxSeconds', undefined, (x) => x > 0, 'a number of seconds > 0');
  if (cr.has('initFrom')) {
    const from = r['initFrom'];
    if (typeof from !== 'string' || !from) fail('field "initFrom": expected the folder of a trained model (config.json and model.safetensors)');
    c.initFrom = from as string;
  }
  if (!Array.isArray(c.testLengths) || c.testLengths.length === 0 || !c.testLengths.every((x) => Number.isInteger(x) && x >= 6)) {
    fail('field "testLengths": expected a non-empty list of integers >= 6');
  }
  if (!['cpu', 'webgpu', 'auto'].includes(c.device)) fail(`field "device": expected "cpu", "webgpu" or "auto", got ${JSON.stringify(c.device)}`);
  if (typeof c.outDir !== 'string' || !c.outDir) fail('field "outDir": expected the folder for results');
  if (c.task === 'selective-copying' && [c.trainLength, ...c.testLengths].some((L) => L < 2 * c.memorize)) {
    fail(`fields "trainLength"/"testLengths": selective copying needs lengths >= 2 × memorize (${2 * c.memorize})`);
  }
  return c;
}
