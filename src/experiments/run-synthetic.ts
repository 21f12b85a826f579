/**
 * Trains a Mamba on a synthetic task (fresh random batches every step) and measures its accuracy on
 * the answer positions at each test length: the paper's Table 1 / Table 2 setting, small.
 */
import '../autograd/backward.js';
import { noGrad } from '../autograd/tape.js';
import { checkWriteTarget, joinPath, makeDir, writeBytesAtomic } from '../io/platform.js';
import { resolveDevice } from '../models/auto.js';
import { MambaConfig } from '../models/mamba/config.js';
import { initMambaWeights } from '../models/mamba/init.js';
import { MambaForCausalLM } from '../models/mamba/modeling.js';
import { RandomSource } from '../ops/random.js';
import { AdamW, clipGradNorm } from '../train/adamw.js';
import { warmupCosine } from '../train/schedule.js';
import type { SyntheticConfig } from './synthetic-config.js';
import { taskBatch, type TaskBatch } from './synthetic-tasks.js';
import { checkOptionKeys, optionKeys } from '../options.js';

export interface SyntheticResult {
  task: string;
  selective: boolean;
  params: number;
  steps: number;
  trainSeconds: number;
  finalLoss: number;
  accuracy: { length: number; accuracy: number }[];
}

/** Fraction of answer positions where the argmax of the previous position's logits is the label. */
export async function accuracyOn(model: MambaForCausalLM, b: TaskBatch): Promise<{ correct: number; total: number }> {
  const out = await noGrad(() => model.forward(b.ids));
  const logits = (await out.logits.data()) as Float32Array;
  out.logits.dispose();
  const [, L, V] = out.logits.shape as [number, number, number];
  let correct = 0;
  let total = 0;
  b.labels.forEach((row, r) =>
    row.forEach((label, t) => {
      if (label === -100) return;
      const at = (r * L + t - 1) * V;
      let best = 0;
      for (let v = 1; v < V; v++) if (logits[at + v]! > logits[at + best]!) best = v;
      total++;
      if (best === label) correct++;
    }),
  );
  return { correct, total };
}

export interface SyntheticRunOptions {
  /** After every training step: its number (1-based), the step count and the training loss. */
  onStep?: (step: number, steps: number, loss: number) => void;
}

export const SYNTHETIC_RUN_OPTION_KEYS = optionKeys<SyntheticRunOptions>({ onStep: true });

/**
 * Trains and tests; `onLine` gets each evaluation ({ step, loss, accuracy, seconds }) and each test
 * length's result ({ test_length, accuracy }), `o.onStep` every step.
 */
export async function runSynthetic(c: SyntheticConfig, onLine: (o: Record<string, unknown>) => void = () => undefined, o: SyntheticRunOptions = {}): Promise<SyntheticResult> {
  checkOptionKeys('runSynthetic', o, SYNTHETIC_RUN_OPTION_KEYS);
  // Before training: outDir and its results.json must be writable (not a file, device or FIFO).
  await checkWriteTarget(c.outDir, 'folder');
  await checkWriteTarget(joinPath(c.outDir, 'results.json'), 'file');
  const device = await resolveDevice(c.device);
  const config = MambaConfig.create({ hidden_size: 64, num_hidden_layers: 2, use_bias: false, ...c.model, vocab_size: c.vocab } as Parameters<typeof MambaConfig.create>[0]);
  const model = new MambaForCausalLM(config);
  initMambaWeights(model, c.seed, device);
  model.requiresGrad_(true);
  const opt = new AdamW(model.namedParameters(), { lr: c.lr, weightDecay: c.weightDecay });
  const rng = new RandomSource(c.seed + 1);
  const batchAt = (L: number, n: number, r: RandomSource) => taskBatch(c.task, n, L, c.vocab, c.memorize, r);
  const testRng = (i: number) => new RandomSource(c.seed * 7919 + 13 + i);
  const t0 = performance.now();
  let loss = NaN;
  try {
    for (let step = 0; step < c.steps; step++) {
      opt.lr = warmupCosine(step, { lr: c.lr, minLr: c.minLr, warmupSteps: c.warmupSteps, totalSteps: c.steps });
      const b = batchAt(c.trainLength, c.batchSize, rng);
      const out = await model.forward(b.ids, { labels: b.labels });
      loss = (await out.loss!.data())[0]!;
      out.loss!.backward();
      out.loss!.dispose();
      out.logits.dispose();
      await clipGradNorm(model.namedParameters().map(([, p]) => p), c.gradClip);
      opt.update();
      model.zeroGrad();
      o.onStep?.(step + 1, c.steps, loss);
      if ((step + 1) % c.evalInterval === 0 || step + 1 === c.steps) {
        const a = await accuracyOn(model, batchAt(c.trainLength, c.testBatchSize, testRng(0)));
        onLine({ step: step + 1, loss: +loss.toFixed(4), accuracy: +(a.correct / a.total).toFixed(4), seconds: +((performance.now() - t0) / 1000).toFixed(1) });
      }
    }
    const trainSeconds = (performance.now() - t0) / 1000;
    const accuracy: SyntheticResult['accuracy'] = [];
    for (const L of c.testLengths) {
      let correct = 0;
      let total = 0;
      for (let i = 0; i < c.testBatches; i++) {
        const a = await accuracyOn(model, batchAt(L, c.testBatchSize, testRng(1000 + i)));
        correct += a.correct;
        total += a.total;
      }
      accuracy.push({ length: L, accuracy: correct / total });
      onLine({ test_length: L, accuracy: +(correct / total).toFixed(4) });
    }
    const result: SyntheticResult = { task: c.task, selective: config.fields.selective, params: model.parameterCount(), steps: c.steps, trainSeconds, finalLoss: loss, accuracy };
    await makeDir(c.outDir);
    await writeBytesAtomic(joinPath(c.outDir, 'results.json'), `${JSON.stringify({ config: c, ...result }, null, 2)}\n`);
    return result;
  } finally {
    opt.dispose();
    model.dispose();
  }
}
