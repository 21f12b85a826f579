/**
 * The synthetic tasks' small model training (issue 16): a 2-layer Mamba, d_model 64, vocab 16, on
 * Selective Copying batches (16 tokens to copy), trained by the shared step as the trainers run it
 * ("ordinary": the loss and the gradient norm read back every step) and by the recorded step as
 * the experiment runner runs it ("replayed": the loss read back every step).
 */
import type { DeviceName } from '../src/backend/registry.js';
import { answerLabels, answerLoss, answerLossOn } from '../src/experiments/answer-scoring.js';
import { selectiveCopyingBatch, type TaskBatch } from '../src/experiments/synthetic-tasks.js';
import { MambaConfig } from '../src/models/mamba/config.js';
import { initMambaWeights } from '../src/models/mamba/init.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { RandomSource } from '../src/ops/random.js';
import { AdamW } from '../src/train/adamw.js';
import { ReplayedTrainStep } from '../src/train/replayed-step.js';
import { trainStep } from '../src/train/train-step.js';

export const TINY = { layers: 2, hidden: 64, vocab: 16, memorize: 16 };

export interface TinyBench {
  readonly params: number;
  /** One step on a fresh batch; resolves to its loss. */
  step(): Promise<number>;
  /** Steps that were replays (replayed mode). */
  readonly replayed: number;
  dispose(): void;
}

export function tinyTrainBench(device: DeviceName, mode: 'ordinary' | 'replayed', batch: number, length: number, seed = 0): TinyBench {
  const model = new MambaForCausalLM(MambaConfig.create({ hidden_size: TINY.hidden, num_hidden_layers: TINY.layers, vocab_size: TINY.vocab, use_bias: false }));
  initMambaWeights(model, seed, device);
  model.requiresGrad_(true);
  // The paper's synthetic-task optimiser: Adam (no weight decay), constant lr 1e-4.
  const opt = new AdamW(model.namedParameters(), { lr: 1e-4, weightDecay: 0 });
  const params = model.namedParameters().map(([, p]) => p);
  const rng = new RandomSource(seed + 1);
  const next = (): TaskBatch => selectiveCopyingBatch(batch, length, TINY.vocab, TINY.memorize, rng);
  const dispose = () => {
    opt.dispose();
    model.dispose();
  };
  if (mode === 'ordinary') {
    return {
      params: model.parameterCount(),
      replayed: 0,
      async step() {
        const b = next();
        const r = await trainStep(opt, params, async () => {
          const out = await model.forward(b.ids);
          const loss = answerLoss(out.logits, b.targets);
          out.logits.dispose();
          return loss;
        }, { gradClip: 1 });
        return r.loss;
      },
      dispose,
    };
  }
  const prepared = () => {
    const b = next();
    return { ids: Int32Array.from(b.ids.flat()), ...answerLabels(b.targets, batch, length, TINY.vocab) };
  };
  let pending = prepared();
  let scored = 0;
  const stepper = new ReplayedTrainStep({
    opt,
    params,
    device,
    gradClip: 1,
    inputs: [
      { shape: [batch, length], dtype: 'i32' },
      { shape: [batch * length], dtype: 'i32' },
    ],
    lossOf: ([ids, labels]) => {
      const out = model.forwardSync(ids!);
      const loss = answerLossOn(out.logits, labels!, scored);
      out.logits.dispose();
      return loss;
    },
  });
  return {
    params: model.parameterCount(),
    get replayed() {
      return stepper.replayed;
    },
    async step() {
      const b = pending;
      scored = b.scored;
      stepper.step([b.ids, b.labels], String(scored));
      // Asking for the loss submits the step; the next batch is made while the device works.
      const read = stepper.read();
      pending = prepared();
      return (await read).loss;
    },
    dispose() {
      stepper.dispose();
      dispose();
    },
  };
}
