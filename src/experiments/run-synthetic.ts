/**
 * Trains a Mamba on a synthetic task (fresh random batches every step) and measures its accuracy on
 * the answer positions at each test length: the paper's Table 1 / Table 2 setting. The trained model
 * is saved beside results.json, so `evaluateSynthetic` can measure it again later (on the CPU).
 */
import '../autograd/backward.js';
import { noGrad } from '../autograd/tape.js';
import { ArgumentError, FormatError } from '../errors.js';
import { checkWriteTarget, exists, joinPath, makeDir, writeBytesAtomic } from '../io/platform.js';
import { readJsonObject, JSON_MAX_BYTES } from '../io/json.js';
import { resolveDevice } from '../models/auto.js';
import { MambaConfig } from '../models/mamba/config.js';
import { initMambaWeights } from '../models/mamba/init.js';
import { MambaForCausalLM } from '../models/mamba/modeling.js';
import { RandomSource } from '../ops/random.js';
import { AdamW } from '../train/adamw.js';
import { ReplayedTrainStep } from '../train/replayed-step.js';
import { warmupCosine } from '../train/schedule.js';
import { initFromModel } from './init-from-model.js';
import { answerAccuracy, answerLabels, answerLossOn } from './answer-scoring.js';
import { parseSyntheticConfig, type SyntheticConfig } from './synthetic-config.js';
import { nextTokenTargets, taskBatch, type TaskBatch } from './synthetic-tasks.js';
import { checkOptionKeys, optionKeys } from '../options.js';
import { NonFiniteLossError } from '../errors.js';
import { holdsCheckpoint } from '../train/checkpoint-folder.js';
import { LM_CHECKPOINT_FILES } from '../train/checkpoint.js';
import { refuseExistingOutput } from '../train/existing-output.js';
import {
  findSyntheticCheckpoint,
  loadSyntheticCheckpoint,
  saveSyntheticCheckpoint,
  SYNTHETIC_CHECKPOINT_FOLDER,
  type SyntheticCurvePoint,
  type SyntheticProgress,
  type SyntheticStop,
} from './synthetic-checkpoint.js';

export interface SyntheticResult {
  task: string;
  selective: boolean;
  params: number;
  /** Training steps taken (fewer than the config's when a stop condition ended the run). */
  steps: number;
  /** steps × batchSize: training sequences seen. */
  sequencesSeen: number;
  /** What ended training: the step count, the accuracy target (stopAccuracy) or the time budget (maxSeconds, of the last run). */
  stoppedBy: SyntheticStop;
  /** Over all runs (the first and its resumes). */
  trainSeconds: number;
  /** The runs that trained: 1, plus each --resume that took a step. */
  runs: number;
  /** The backend it trained on ('cpu' or 'webgpu'). */
  device: string;
  finalLoss: number;
  /** The learning curve: each evaluation during training, on the fixed test batch at trainLength. */
  curve: SyntheticCurvePoint[];
  accuracy: { length: number; accuracy: number }[];
}

/** Where runSynthetic puts the trained model (config.json + model.safetensors) inside outDir. */
export const SYNTHETIC_MODEL_FOLDER = 'model';

/**
 * The most positions (rows × length) one evaluation forward takes. A test batch longer than that
 * runs as sub-batches of whole sequences (the same sequences, so the same accuracy): that bounds
 * the activations at long test lengths (a 2^20-token sequence's in_proj output alone is 1 GiB in a
 * d_model 64 Mamba) instead of running out of memory.
 */
export const EVAL_POSITIONS = 1 << 20;

/**
 * Scored positions of a batch where the model's output at that position has the target as its
 * argmax, run `maxPositions` positions at a time (whole sequences; at least one).
 */
export async function accuracyOn(model: MambaForCausalLM, b: TaskBatch, maxPositions = EVAL_POSITIONS): Promise<{ correct: number; total: number }> {
  const L = b.ids[0]?.length ?? 0;
  const rowsPer = Math.max(1, Math.floor(maxPositions / Math.max(1, L)));
  let correct = 0;
  let total = 0;
  for (let r0 = 0; r0 < b.ids.length; r0 += rowsPer) {
    const out = await noGrad(() => model.forward(b.ids.slice(r0, r0 + rowsPer)));
    const logits = (await out.logits.data()) as Float32Array;
    const shape = out.logits.shape;
    out.logits.dispose();
    const a = answerAccuracy(logits, shape, b.targets.slice(r0, r0 + rowsPer));
    correct += a.correct;
    total += a.total;
  }
  return { correct, total };
}

const batchFor = (c: SyntheticConfig, L: number, n: number, r: RandomSource) => taskBatch(c.task, n, L, c.vocab, c.memorize, r);
/** The test batches' seeds: the same for every run of a config, so evaluating again sees the same data. */
const testRng = (c: SyntheticConfig, i: number) => new RandomSource(c.seed * 7919 + 13 + i);

/** Accuracy at each of the config's test lengths, over testBatches batches of testBatchSize; `onLength` after each. */
export async function testAccuracy(
  model: MambaForCausalLM,
  c: SyntheticConfig,
  onLine: (o: Record<string, unknown>) => void = () => undefined,
  onLength: (a: SyntheticResult['accuracy'][number]) => Promise<void> = async () => undefined,
): Promise<SyntheticResult['accuracy']> {
  const accuracy: SyntheticResult['accuracy'] = [];
  for (const L of c.testLengths) {
    let correct = 0;
    let total = 0;
    for (let i = 0; i < c.testBatches; i++) {
      const a = await accuracyOn(model, batchFor(c, L, c.testBatchSize, testRng(c, 1000 + i)));
      correct += a.correct;
      total += a.total;
    }
    accuracy.push({ length: L, accuracy: correct / total });
    onLine({ test_length: L, accuracy: +(correct / total).toFixed(4) });
    await onLength(accuracy.at(-1)!);
  }
  return accuracy;
}

export interface SyntheticRunOptions {
  /** After every training step: its number (1-based), the step count and the training loss. */
  onStep?: (step: number, steps: number, loss: number) => void;
  /**
   * Continue from outDir/checkpoint (written at every evaluation and at the stop): the same data
   * order, random state and optimizer state, so that the run ends as one uninterrupted run would.
   * Without a checkpoint there, a fresh run.
   */
  resume?: boolean;
  /** Start over in an outDir that holds a checkpoint, replacing it (without it, or resume, such an outDir is refused). */
  overwrite?: boolean;
}

export const SYNTHETIC_RUN_OPTION_KEYS = optionKeys<SyntheticRunOptions>({ onStep: true, resume: true, overwrite: true });

/**
 * Trains and tests; `onLine` gets each evaluation ({ step, loss, accuracy, seconds }) and each test
 * length's result ({ test_length, accuracy }), `o.onStep` every step. Writes outDir/checkpoint/ at
 * every evaluation, then outDir/model/ and outDir/results.json. With `o.resume`, continues from
 * outDir/checkpoint; maxSeconds is then this run's budget, trainSeconds the total of all runs. A
 * checkpoint whose run had ended (by steps or stopAccuracy, still reached with this config) is only
 * tested again.
 */
export async function runSynthetic(c: SyntheticConfig, onLine: (o: Record<string, unknown>) => void = () => undefined, o: SyntheticRunOptions = {}): Promise<SyntheticResult> {
  checkOptionKeys('runSynthetic', o, SYNTHETIC_RUN_OPTION_KEYS);
  // Before training: outDir and its results.json must be writable (not a file, device or FIFO).
  await checkWriteTarget(c.outDir, 'folder');
  await checkWriteTarget(joinPath(c.outDir, 'results.json'), 'file');
  await checkWriteTarget(joinPath(c.outDir, SYNTHETIC_MODEL_FOLDER), 'folder');
  await refuseExistingOutput(joinPath(c.outDir, SYNTHETIC_CHECKPOINT_FOLDER), (d) => holdsCheckpoint(d, LM_CHECKPOINT_FILES), o, true, 'experiment');
  // Before anything else touches outDir: a resume finishes a checkpoint swap a crash interrupted.
  const resumeAt = o.resume ? await findSyntheticCheckpoint(c.outDir) : null;
  const device = await resolveDevice(c.device);
  const config = MambaConfig.create({ hidden_size: 64, num_hidden_layers: 2, use_bias: false, ...c.model, vocab_size: c.vocab } as Parameters<typeof MambaConfig.create>[0]);
  const model = new MambaForCausalLM(config);
  initMambaWeights(model, c.seed, device);
  // A resume loads the checkpoint's weights below; a fresh run with initFrom starts from that model's.
  if (c.initFrom !== undefined && resumeAt === null) {
    try {
      await initFromModel(model, c.initFrom);
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
  model.requiresGrad_(true);
  // weightDecay 0 makes this Adam (the paper's optimiser for the synthetic tasks).
  const opt = new AdamW(model.namedParameters(), { lr: c.lr, weightDecay: c.weightDecay });
  const rng = new RandomSource(c.seed + 1);
  let resumed: SyntheticProgress | null = null;
  if (resumeAt !== null) {
    try {
      resumed = await loadSyntheticCheckpoint(c.outDir, model, opt, c);
    } catch (e) {
      opt.dispose();
      model.dispose();
      throw e;
    }
    rng.state = resumed.rngState;
  }
  const start = resumed?.step ?? 0;
  // A run that ended (all its steps, or the accuracy target this config still sets) is tested again.
  const lastAccuracy = resumed?.curve.at(-1)?.accuracy ?? 0;
  const done = resumed !== null && (start >= c.steps || (resumed.stoppedBy === 'accuracy' && c.stopAccuracy !== undefined && lastAccuracy >= c.stopAccuracy));
  const priorSeconds = resumed?.trainSeconds ?? 0;
  const runs = done ? resumed!.runs : (resumed?.runs ?? 0) + 1;
  const [B, L, V] = [c.batchSize, c.trainLength, c.vocab];
  // The mean loss divides by the batch's scored positions: baked into the recorded step, which is
  // recorded anew should a batch have another count (the tasks' batches all have the same).
  let scored = 0;
  const stepper = newStepper(model, {
    opt,
    params: model.namedParameters().map(([, p]) => p),
    device,
    gradClip: c.gradClip,
    inputs: [
      { shape: [B, L], dtype: 'i32' },
      { shape: [B * L], dtype: 'i32' },
    ],
    lossOf: ([ids, labels]) => {
      const out = model.forwardSync(ids!);
      const loss = answerLossOn(out.logits, labels!, scored);
      out.logits.dispose();
      return loss;
    },
  });
  const t0 = performance.now();
  const runSeconds = () => (performance.now() - t0) / 1000;
  let loss = resumed?.finalLoss ?? NaN;
  let taken = start;
  let stoppedBy: SyntheticStop = done ? (resumed!.stoppedBy ?? 'steps') : 'steps';
  const curve: SyntheticCurvePoint[] = [...(resumed?.curve ?? [])];
  try {
    // The generator's state before the next step's batch is drawn: what a checkpoint records, so
    // that a resume draws that batch again.
    let nextRngState = rng.state;
    const nextBatch = () => {
      nextRngState = rng.state;
      const b = batchFor(c, L, B, rng);
      const targets = c.trainOn === 'next-token' ? nextTokenTargets(b) : b.targets;
      return { ids: Int32Array.from(b.ids.flat()), ...answerLabels(targets, B, L, V) };
    };
    let batch = done ? null : nextBatch();
    for (let step = start; batch && step < c.steps; step++) {
      opt.lr = c.schedule === 'constant' ? c.lr : warmupCosine(step, { lr: c.lr, minLr: c.minLr, warmupSteps: c.warmupSteps, totalSteps: c.steps });
      scored = batch.scored;
      stepper.step([batch.ids, batch.labels], String(scored));
      // Asking for the loss submits the step; the next batch is made while the device works.
      const read = stepper.read();
      if (step + 1 < c.steps) batch = nextBatch();
      else nextRngState = rng.state;
      const r = await read;
      loss = r.loss;
      if (!Number.isFinite(r.loss) || !Number.isFinite(r.gradNorm)) {
        throw new NonFiniteLossError(
          `experiment: the ${Number.isFinite(r.loss) ? `gradient norm became ${r.gradNorm}` : `loss became ${r.loss}`} at step ${step + 1}; stopped without saving. Lower "lr" or "gradClip".`,
        );
      }
      taken = step + 1;
      o.onStep?.(step + 1, c.steps, loss);
      // The time budget (this run's) is checked every step (an evaluation interval can be minutes
      // long): past it, one more evaluation, then the run stops.
      const overTime = c.maxSeconds !== undefined && runSeconds() >= c.maxSeconds;
      if ((step + 1) % c.evalInterval === 0 || step + 1 === c.steps || overTime) {
        const a = await accuracyOn(model, batchFor(c, c.trainLength, c.testBatchSize, testRng(c, 0)));
        const seconds = priorSeconds + runSeconds();
        const point = { step: step + 1, loss: +loss.toFixed(4), accuracy: +(a.correct / a.total).toFixed(4), seconds: +seconds.toFixed(1) };
        curve.push(point);
        onLine(point);
        if (step + 1 < c.steps && c.stopAccuracy !== undefined && a.correct / a.total >= c.stopAccuracy) stoppedBy = 'accuracy';
        else if (step + 1 < c.steps && c.maxSeconds !== undefined && runSeconds() >= c.maxSeconds) stoppedBy = 'time';
        const ended = stoppedBy !== 'steps' || step + 1 === c.steps;
        // At every evaluation, and at the stop before testing: a run cut off loses at most an interval.
        await saveSyntheticCheckpoint(c.outDir, model, opt, {
          step: step + 1,
          rngState: nextRngState,
          finalLoss: loss,
          curve,
          trainSeconds: priorSeconds + runSeconds(),
          runs,
          stoppedBy: ended ? stoppedBy : null,
          config: c,
        });
        if (stoppedBy !== 'steps') break;
      }
    }
    const trainSeconds = done ? priorSeconds : priorSeconds + runSeconds();
    // Saved before testing, so a test length that runs out of memory does not lose the training.
    await makeDir(c.outDir);
    await model.save(joinPath(c.outDir, SYNTHETIC_MODEL_FOLDER));
    const result: SyntheticResult = {
      task: c.task,
      selective: config.fields.selective,
      params: model.parameterCount(),
      steps: taken,
      sequencesSeen: taken * c.batchSize,
      stoppedBy,
      trainSeconds,
      runs,
      device,
      finalLoss: loss,
      curve,
      accuracy: [],
    };
    // results.json is written before the tests and again after each test length, so a run whose
    // long test lengths outlast a call keeps the lengths done, and `--evaluate` can test the model
    // (the longest lengths alone with --lengths) without training it again.
    const writeResults = () => writeBytesAtomic(joinPath(c.outDir, 'results.json'), `${JSON.stringify({ config: c, ...result }, null, 2)}\n`);
    await writeResults();
    await testAccuracy(model, c, onLine, async (a) => {
      result.accuracy.push(a);
      await writeResults();
    });
    return result;
  } finally {
    stepper.dispose();
    opt.dispose();
    model.dispose();
  }
}

export interface SyntheticEvaluation {
  /** Accuracy per test length measured now. */
  accuracy: SyntheticResult['accuracy'];
  /** The same, as results.json recorded it when the model was trained. */
  recorded: SyntheticResult['accuracy'];
}

/**
 * Loads a finished experiment folder (results.json with its config, and model/ — or the model's
 * files beside results.json, as models/selective-copying-* ship) and measures the
 * model's accuracy again on the config's test batches, on `device` (default the CPU).
 */
export async function evaluateSynthetic(
  dir: string,
  device: 'cpu' | 'webgpu' | 'auto' = 'cpu',
  onLine: (o: Record<string, unknown>) => void = () => undefined,
  lengths?: readonly number[],
): Promise<SyntheticEvaluation> {
  const resultsPath = joinPath(dir, 'results.json');
  const saved = await readJsonObject(resultsPath, { maxBytes: JSON_MAX_BYTES.config, what: 'an experiment results.json' });
  const c = parseSyntheticConfig(saved['config'], `${resultsPath} (field "config")`);
  const recorded = saved['accuracy'];
  if (!Array.isArray(recorded) || !recorded.every((a) => a && typeof a === 'object' && typeof (a as { length?: unknown }).length === 'number' && typeof (a as { accuracy?: unknown }).accuracy === 'number')) {
    throw new FormatError(resultsPath, 'field "accuracy": expected a list of { length, accuracy }');
  }
  // An experiment's outDir keeps the model in model/; a shipped model (models/selective-copying-*)
  // has its weights beside results.json.
  const outDirModel = joinPath(dir, SYNTHETIC_MODEL_FOLDER);
  const modelDir = (await exists(joinPath(outDirModel, 'config.json'))) ? outDirModel : (await exists(joinPath(dir, 'config.json'))) ? dir : null;
  if (!modelDir) {
    throw new FormatError(
      outDirModel,
      `missing: the experiment's trained model (config.json and weights), which runSynthetic saves there (or beside results.json, as the shipped models have it); experiments run before it saved models cannot be evaluated`,
    );
  }
  // A subset of the recorded lengths (the long ones take minutes on a CPU).
  let tested = c;
  let rows = recorded as SyntheticResult['accuracy'];
  if (lengths !== undefined) {
    const missing = lengths.filter((L) => !c.testLengths.includes(L));
    if (lengths.length === 0 || missing.length) {
      throw new ArgumentError(`experiment --lengths: ${missing.length ? `${missing.join(', ')} not among` : 'expected some of'} the experiment's test lengths (${c.testLengths.join(', ')})`);
    }
    tested = { ...c, testLengths: c.testLengths.filter((L) => lengths.includes(L)) };
    rows = rows.filter((a) => lengths.includes(a.length));
  }
  const model = await MambaForCausalLM.fromPretrained(modelDir, { device: await resolveDevice(device) });
  try {
    return { accuracy: await testAccuracy(model, tested, onLine), recorded: rows };
  } finally {
    model.dispose();
  }
}

/** The replayed step, or — when it cannot be made — the optimizer and model freed before the error goes on. */
function newStepper(model: MambaForCausalLM, o: ConstructorParameters<typeof ReplayedTrainStep>[0]): ReplayedTrainStep {
  try {
    return new ReplayedTrainStep(o);
  } catch (e) {
    o.opt.dispose();
    model.dispose();
    throw e;
  }
}
