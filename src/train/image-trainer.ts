/**
 * The image-classification loop behind `mamba-ts train` with `"task": "image-classification"`:
 * ViM2 on the MNIST split (image-data.ts), AdamW with warm-up + cosine, gradient clipping, cross
 * entropy, optional random-shift augmentation, test accuracy after every `evalEvery` epochs, and
 * an atomic checkpoint folder (config.json, model.safetensors, preprocessor_config.json,
 * trainer_state.json) after each evaluation.
 */
import { ArgumentError } from '../errors.js';
import { noGrad } from '../autograd/tape.js';
import '../autograd/backward.js';
import type { DeviceName } from '../backend/registry.js';
import { checkWriteTarget, joinPath, removeStaleTemps, writeBytesAtomic } from '../io/platform.js';
import { holdsCheckpoint, writeCheckpointFolder } from './checkpoint-folder.js';
import { refuseExistingOutput } from './existing-output.js';
import { serializeSafetensors, type TensorToWrite } from '../io/safetensors.js';
import { resolveDevice } from '../models/auto.js';
import { Vim2Config } from '../models/mambamixer/vim2-config.js';
import { initVim2Weights, Vim2ForImageClassification } from '../models/mambamixer/vim2.js';
import { argmax, tensor } from '../ops/index.js';
import { crossEntropy } from '../ops/loss.js';
import { RandomSource } from '../ops/random.js';
import { AdamW, mambaNoDecay } from './adamw.js';
import { trainStep } from './train-step.js';
import { loadMnistTest, strideSplit, type ImageSet } from './image-data.js';
import type { ImageTrainConfig } from './image-train-config.js';
import { NonFiniteLossError } from './trainer.js';
import { warmupCosine } from './schedule.js';
import { EventLoopYielder } from '../event-loop.js';

export interface ImageProgress {
  step: number;
  steps: number;
  epoch: number;
  loss: number;
  lr: number;
  imagesPerSecond: number;
  testAccuracy?: number;
}

export interface ImageTrainResult {
  steps: number;
  testAccuracy: number;
  /** Wall time of the whole run (data loading included), seconds. */
  seconds: number;
  parameters: number;
  device: DeviceName;
  checkpoint: string;
}

/** The model config of a train config: its preset (if any) with the given fields on top. */
export function vim2ConfigOf(c: ImageTrainConfig, source: string): Vim2Config {
  return c.model.preset !== undefined ? Vim2Config.preset(c.model.preset, c.model.fields) : Vim2Config.fromJSON(c.model.fields, `${source}: model`);
}

/** (x − mean) / std over the training pixels: the normalisation every image gets (kept in preprocessor_config.json). */
function pixelStats(set: ImageSet): { mean: number; std: number } {
  let s = 0;
  let s2 = 0;
  for (const v of set.images) {
    s += v;
    s2 += v * v;
  }
  const mean = s / set.images.length;
  return { mean, std: Math.sqrt(Math.max(s2 / set.images.length - mean * mean, 1e-12)) };
}

/** A batch of images `idx` of `set`, normalised, each shifted by up to maxShift pixels (zero-filled) when rng is given. */
function batchPixels(set: ImageSet, idx: readonly number[], norm: { mean: number; std: number }, shift: { rng: RandomSource; max: number } | null): Float32Array {
  const { height: H, width: W, channels: Cn } = set;
  const per = H * W * Cn;
  const out = new Float32Array(idx.length * per).fill(-norm.mean / norm.std); // zero pixels, normalised
  idx.forEach((i, k) => {
    const dy = shift ? Math.floor(shift.rng.next() * (2 * shift.max + 1)) - shift.max : 0;
    const dx = shift ? Math.floor(shift.rng.next() * (2 * shift.max + 1)) - shift.max : 0;
    for (let y = 0; y < H; y++) {
      const sy = y - dy;
      if (sy < 0 || sy >= H) continue;
      for (let x = 0; x < W; x++) {
        const sx = x - dx;
        if (sx < 0 || sx >= W) continue;
        for (let c = 0; c < Cn; c++) out[k * per + (y * W + x) * Cn + c] = (set.images[i * per + (sy * W + sx) * Cn + c]! - norm.mean) / norm.std;
      }
    }
  });
  return out;
}

/** The files of an image-classification checkpoint (one of the old layout, without a marker, must hold them all). */
const IMAGE_CHECKPOINT_FILES = ['config.json', 'model.safetensors', 'preprocessor_config.json', 'trainer_state.json'];

export async function runImageTraining(c: ImageTrainConfig, o: { source?: string; overwrite?: boolean; onProgress?: (p: ImageProgress) => void } = {}): Promise<ImageTrainResult> {
  await checkWriteTarget(c.outDir, 'folder');
  await refuseExistingOutput(joinPath(c.outDir, 'checkpoint'), (d) => holdsCheckpoint(d, IMAGE_CHECKPOINT_FILES), o, false);
  await removeStaleTemps(c.outDir);
  const t0 = performance.now();
  const device = await resolveDevice(c.device);
  const config = vim2ConfigOf(c, o.source ?? 'train config');
  const { train, test } = strideSplit(await loadMnistTest(c.data.path), c.data.trainSize, c.data.testSize);
  const f = config.fields;
  if (train.height !== f.image_size || train.width !== f.image_size || train.channels !== f.in_channels) {
    throw new ArgumentError(`train: the data are ${train.height}×${train.width}×${train.channels} images, the model takes ${f.image_size}×${f.image_size}×${f.in_channels}`);
  }
  const norm = pixelStats(train);
  const model = new Vim2ForImageClassification(config);
  initVim2Weights(model, c.seed, device);
  model.requiresGrad_(true);
  // The weighted-average scalars are not decayed: decay would pull the identity initialisation towards 0.
  const opt = new AdamW(model.namedParameters(), { lr: c.lr, weightDecay: c.weightDecay, noDecay: (n) => mambaNoDecay(n) || /(^|\.)averages\./.test(n) });
  const params = model.namedParameters().map(([, p]) => p);
  const rng = new RandomSource(c.seed + 1);
  const stepsPerEpoch = Math.ceil(train.count / c.batchSize);
  const totalSteps = c.epochs * stepsPerEpoch;
  const lastStep = Math.min(totalSteps, c.maxSteps ?? totalSteps);
  const ckpt = joinPath(c.outDir, 'checkpoint');
  const history: { epoch: number; step: number; testAccuracy: number }[] = [];

  const yielder = new EventLoopYielder();
  const evaluate = async (): Promise<number> => {
    let correct = 0;
    for (let at = 0; at < test.count; at += c.evalBatchSize) {
      await yielder.maybeYield(); // CPU steps await only microtasks: let timers and I/O run (event-loop.ts)
      const idx = Array.from({ length: Math.min(c.evalBatchSize, test.count - at) }, (_, k) => at + k);
      const pred = noGrad(() => {
        const x = tensor(batchPixels(test, idx, norm, null), [idx.length, test.height, test.width, test.channels], { device });
        const logits = model.forward(x);
        x.dispose();
        const p = argmax(logits);
        logits.dispose();
        return p;
      });
      const got = await pred.data();
      pred.dispose();
      idx.forEach((i, k) => (correct += got[k] === test.labels[i] ? 1 : 0));
    }
    return correct / test.count;
  };
  const save = async (step: number) => {
    const tensors: Record<string, TensorToWrite> = {};
    for (const [name, p] of model.namedParameters()) tensors[name] = { dtype: 'F32', shape: [...p.shape], data: (await p.value.data()) as Float32Array };
    const pre = { do_rescale: true, rescale_factor: 1 / 255, do_normalize: true, image_mean: [norm.mean], image_std: [norm.std] };
    // The same crash-safe folder protocol as the language-model checkpoints (checkpoint-folder.ts).
    await writeCheckpointFolder(ckpt, step, async (tmp) => {
      await writeBytesAtomic(joinPath(tmp, 'model.safetensors'), serializeSafetensors(tensors, { format: 'pt' }));
      await writeBytesAtomic(joinPath(tmp, 'config.json'), `${JSON.stringify(config.toJSON(), null, 2)}\n`);
      await writeBytesAtomic(joinPath(tmp, 'preprocessor_config.json'), `${JSON.stringify(pre, null, 2)}\n`);
      await writeBytesAtomic(joinPath(tmp, 'trainer_state.json'), `${JSON.stringify({ step, history, config: c }, null, 2)}\n`);
    });
  };

  let accuracy = NaN;
  try {
    let step = 0;
    for (let epoch = 1; epoch <= c.epochs && step < lastStep; epoch++) {
      const order = Array.from({ length: train.count }, (_, i) => i);
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(rng.next() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      for (let b = 0; b < stepsPerEpoch && step < lastStep; b++) {
        await yielder.maybeYield(); // CPU steps await only microtasks: let timers and I/O run (event-loop.ts)
        const ts = performance.now();
        const idx = order.slice(b * c.batchSize, (b + 1) * c.batchSize);
        opt.lr = warmupCosine(step, { lr: c.lr, minLr: c.minLr, warmupSteps: c.warmupSteps, totalSteps });
        const x = tensor(batchPixels(train, idx, norm, c.augment === 'shift' ? { rng, max: c.maxShift } : null), [idx.length, train.height, train.width, train.channels], { device });
        const y = tensor(Int32Array.from(idx, (i) => train.labels[i]!), [idx.length], { device, dtype: 'i32' });
        let stepResult: Awaited<ReturnType<typeof trainStep>>;
        try {
          stepResult = await trainStep(opt, params, () => {
            const logits = model.forward(x);
            const loss = crossEntropy(logits, y, idx.length);
            logits.dispose();
            return loss;
          }, { gradClip: c.gradClip });
        } finally {
          x.dispose();
          y.dispose();
        }
        const { loss: lossValue, gradNorm } = stepResult;
        if (!Number.isFinite(lossValue) || !Number.isFinite(gradNorm)) {
          throw new NonFiniteLossError(`train: the ${Number.isFinite(lossValue) ? `gradient norm became ${gradNorm}` : `loss became ${lossValue}`} at step ${step + 1}; stopped without saving. Lower "lr" or "gradClip".`);
        }
        step++;
        const p: ImageProgress = { step, steps: lastStep, epoch, loss: lossValue, lr: opt.lr, imagesPerSecond: idx.length / ((performance.now() - ts) / 1000) };
        const epochDone = b === stepsPerEpoch - 1;
        if ((epochDone && epoch % c.evalEvery === 0) || step === lastStep) {
          p.testAccuracy = accuracy = await evaluate();
          history.push({ epoch, step, testAccuracy: accuracy });
          await save(step);
        }
        o.onProgress?.(p);
      }
    }
    return { steps: step, testAccuracy: accuracy, seconds: (performance.now() - t0) / 1000, parameters: model.parameterCount(), device, checkpoint: ckpt };
  } finally {
    opt.dispose();
    model.dispose();
  }
}
