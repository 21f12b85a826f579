/**
 * The training loop behind `mamba-ts train`: a character or tokenized corpus, AdamW with warm-up + cosine,
 * gradient clipping, periodic validation, checkpoints (with the loss curve and the vocabulary)
 * and exact resumption.
 */
import { ArgumentError, FormatError } from '../errors.js';
import { checkWriteTarget, joinPath, readText, removeStaleTemps, writeBytesAtomic } from '../io/platform.js';
import { buildLanguageModel } from './lm-model.js';
import { expertFractionsFromCounts } from '../nn/moe.js';
import { RandomSource } from '../ops/random.js';
import '../autograd/backward.js';
import { AdamW } from './adamw.js';
import { trainStep } from './train-step.js';
import { validationBatches, validationLoss } from './validation.js';
import { CharCorpus, sampleWindows, type Corpus } from './char-data.js';
import { TokenCorpus } from './token-data.js';
import { resolveDevice } from '../models/auto.js';
import type { Tensor } from '../tensor/tensor.js';
import { findCheckpointToResume, LM_CHECKPOINT_FILES, loadCheckpoint, saveCheckpoint, type TrainerState } from './checkpoint.js';
import { holdsCheckpoint } from './checkpoint-folder.js';
import { lossCurveSvg, type LossPoint } from './loss-curve.js';
import { warmupCosine } from './schedule.js';
import type { TrainConfig } from './train-config.js';
import { refuseExistingOutput, type OutputPolicy } from './existing-output.js';
import { checkOptionKeys, optionKeys } from '../options.js';
import { EventLoopYielder } from '../event-loop.js';

export interface Progress {
  step: number;
  steps: number;
  loss: number;
  lr: number;
  tokensPerSecond: number;
  validLoss?: number;
  /** Models with experts, at each validation: [MoE layer][expert] fraction of routed token slots. */
  expertLoad?: number[][];
}

export interface TrainResult {
  steps: number;
  /** Steps this call ran (fewer than `steps` after resuming; 0 when the checkpoint was already final). */
  stepsRun: number;
  finalValidLoss: number;
  checkpoint: string;
  /** Models with experts: the expert load at the last validation (see Progress.expertLoad). */
  expertLoad?: number[][];
}

/** Frees a forward's outputs once its numbers were read (and its graph used). */
function disposeOutput(out: { logits: Tensor; loss?: Tensor; auxLoss?: Tensor }): void {
  out.loss?.dispose();
  out.auxLoss?.dispose();
  out.logits.dispose();
}

import { NonFiniteLossError } from '../errors.js';

export { NonFiniteLossError };

export interface TrainingOptions {
  /** Continue from `outDir/checkpoint` when it exists (same data order and random state). */
  resume?: boolean;
  /** Start over in an outDir that holds a checkpoint, replacing it (without it, or resume, such a folder is refused). */
  overwrite?: boolean;
  /** Called after every step (with the validation loss at evaluation steps). */
  onProgress?: (p: Progress) => void;
}

export const TRAINING_OPTION_KEYS = optionKeys<TrainingOptions>({ resume: true, overwrite: true, onProgress: true });

/** A character corpus must map characters to the ids the checkpoint was trained with. */
function checkSameVocabulary(saved: unknown, now: readonly string[] | null, file: string, data: string): void {
  if (!Array.isArray(saved) || now === null) return;
  if (saved.length !== now.length || saved.some((ch, i) => ch !== now[i])) {
    throw new FormatError(file, `field "vocabulary": the checkpoint's ${saved.length} characters differ from the ${now.length} of ${data}; resuming would give the characters other ids. Train on the same text, or start over`);
  }
}

/** Trains the language model `c` describes (parse a config with parseTrainConfig); checkpoints go to c.outDir. */
export async function runTraining(c: TrainConfig, o: TrainingOptions = {}): Promise<TrainResult> {
  checkOptionKeys('runTraining', o, TRAINING_OPTION_KEYS);
  await checkWriteTarget(c.outDir, 'folder');
  const ckpt = joinPath(c.outDir, 'checkpoint');
  await refuseExistingOutput(ckpt, (d) => holdsCheckpoint(d, LM_CHECKPOINT_FILES), o, true);
  // Before anything else touches outDir: a resumed run finishes a swap a crash interrupted.
  const resumeAt = o.resume ? await findCheckpointToResume(ckpt) : null;
  await removeStaleTemps(c.outDir);
  const device = await resolveDevice(c.device);
  const text = await readText(c.data.path);
  const corpus: Corpus = c.data.tokenizer ? await TokenCorpus.fromText(text, c.data.tokenizer) : new CharCorpus(text);
  const unit = c.data.tokenizer ? 'tokens' : 'characters';
  const { train, valid } = corpus.split(c.data.validFraction);
  if (train.length < c.seqLen + 1 || valid.length < c.seqLen + 1) {
    throw new ArgumentError(`train: ${c.data.path} is too short for windows of ${c.seqLen + 1} ${unit} in both splits`);
  }
  const vocab = (c.model['vocab_size'] as number | undefined) ?? corpus.vocabSize;
  if (vocab < corpus.vocabSize) {
    throw new ArgumentError(`train: model.vocab_size ${vocab} is smaller than the corpus' ${corpus.vocabSize} ${unit}`);
  }
  const model = buildLanguageModel(c.model, vocab, c.seed, device);
  model.requiresGrad_(true);
  const opt = new AdamW(model.namedParameters(), { lr: c.lr, weightDecay: c.weightDecay });
  const params = model.namedParameters().map(([, p]) => p);
  const rng = new RandomSource(c.seed + 1);
  let start = 0;
  let trainLosses: LossPoint[] = [];
  let validLosses: LossPoint[] = [];
  if (resumeAt !== null) {
    const st = await loadCheckpoint(ckpt, model, opt, { maxStep: c.steps });
    checkSameVocabulary(st['vocabulary'], corpus.vocabulary, joinPath(ckpt, 'trainer_state.json'), c.data.path);
    start = st.step;
    rng.state = st.rngState;
    // Checked by loadCheckpoint (parseTrainerState): arrays of { step, loss }.
    trainLosses = (st['trainLosses'] as LossPoint[] | undefined) ?? [];
    validLosses = (st['validLosses'] as LossPoint[] | undefined) ?? [];
    // The curve is written after the checkpoint: a crash between the two left the older one.
    await writeBytesAtomic(joinPath(c.outDir, 'loss_curve.svg'), lossCurveSvg(trainLosses, validLosses));
  }
  let lastExpertLoad: number[][] | undefined;
  // The same validation windows every time, independent of the training stream.
  const validBatches = validationBatches(valid, c);
  const yielder = new EventLoopYielder();
  // Validation loss; for a model with experts also the expert load, from the first batch's routing.
  const evaluate = (): Promise<number> =>
    validationLoss(model, validBatches, (i, out) => {
      if (i === 0 && out.expertCounts?.length) lastExpertLoad = expertFractionsFromCounts(out.expertCounts);
    });
  const save = async (step: number) => {
    const state: TrainerState = { step, rngState: rng.state, trainLosses, validLosses, vocabulary: corpus.vocabulary, config: c, ...(lastExpertLoad ? { expertLoad: lastExpertLoad } : {}) };
    await saveCheckpoint(ckpt, model, opt, state, corpus.tokenizerFiles());
    await writeBytesAtomic(joinPath(c.outDir, 'loss_curve.svg'), lossCurveSvg(trainLosses, validLosses));
  };
  let finalValid = NaN;
  try {
    for (let step = start; step < c.steps; step++) {
      await yielder.maybeYield(); // CPU steps await only microtasks: let timers and I/O run (event-loop.ts)
      const t0 = performance.now();
      opt.lr = warmupCosine(step, { lr: c.lr, minLr: c.minLr, warmupSteps: c.warmupSteps, totalSteps: c.steps });
      // The shared step: micro-batches' gradients summed (each loss scaled by 1/n), clip, AdamW.
      const { loss, gradNorm } = await trainStep(opt, params, async () => {
        const batch = sampleWindows(train, c.batchSize, c.seqLen, rng);
        const out = await model.forward(batch, { labels: batch });
        const loss = out.loss!;
        out.loss = undefined;
        disposeOutput(out);
        return loss;
      }, { gradClip: c.gradClip, microBatches: c.gradAccumulation });
      if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
        const what = Number.isFinite(loss) ? `the gradient norm became ${gradNorm}` : `the loss became ${loss}`;
        const kept = start > 0 || step >= c.checkpointInterval ? `the last good checkpoint in ${ckpt} is kept as it was` : 'no checkpoint had been written yet';
        throw new NonFiniteLossError(`train: ${what} at step ${step + 1}; stopped without updating the weights or saving (${kept}). Lower "lr" or "gradClip", or check the data.`);
      }
      trainLosses.push({ step: step + 1, loss });
      const p: Progress = { step: step + 1, steps: c.steps, loss, lr: opt.lr, tokensPerSecond: (c.gradAccumulation * c.batchSize * c.seqLen) / ((performance.now() - t0) / 1000) };
      if ((step + 1) % c.evalInterval === 0 || step + 1 === c.steps) {
        p.validLoss = finalValid = await evaluate();
        validLosses.push({ step: step + 1, loss: finalValid });
        if (lastExpertLoad) p.expertLoad = lastExpertLoad;
      }
      o.onProgress?.(p);
      if ((step + 1) % c.checkpointInterval === 0 || step + 1 === c.steps) await save(step + 1);
    }
    if (Number.isNaN(finalValid)) finalValid = await evaluate();
    const result: TrainResult = { steps: c.steps, stepsRun: Math.max(0, c.steps - start), finalValidLoss: finalValid, checkpoint: ckpt };
    if (lastExpertLoad) result.expertLoad = lastExpertLoad;
    return result;
  } finally {
    opt.dispose();
    model.dispose();
  }
}
