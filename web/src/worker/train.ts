/**
 * Train in the tab: a small character-level Mamba on the user's text, AdamW, one loss per step
 * sent to the page as it comes; at the end a short sample from the trained model.
 */
import type { DeviceUsed, TrainJob, TrainResult } from '../protocol.js';
import { AdamW, CharCorpus, clipGradNorm, initMambaWeights, MambaConfig, MambaForCausalLM, RandomSource, sampleWindows } from './lib.js';

export type EmitLoss = (e: { type: 'loss'; step: number; loss: number } | { type: 'status'; text: string }) => void;

export async function runTrain(job: TrainJob, d: DeviceUsed, emit: EmitLoss): Promise<TrainResult> {
  const corpus = new CharCorpus(job.text);
  if (corpus.ids.length < job.seqLen + 1) throw new Error(`train: the text has ${corpus.ids.length} characters; paste at least ${job.seqLen + 1} (one window of seqLen + 1)`);
  if (corpus.vocabSize < 2) throw new Error('train: the text needs at least two different characters');
  const config = MambaConfig.create({ hidden_size: job.hiddenSize, num_hidden_layers: job.layers, vocab_size: corpus.vocabSize, use_bias: false });
  const model = new MambaForCausalLM(config);
  const opt = new AdamW(model.namedParameters(), { lr: job.lr, weightDecay: 0.01 });
  try {
    initMambaWeights(model, job.seed, d.device);
    model.requiresGrad_(true);
    const rng = new RandomSource(job.seed + 1);
    const losses: number[] = [];
    const t0 = performance.now();
    for (let step = 1; step <= job.steps; step++) {
      const batch = sampleWindows(corpus.ids, job.batchSize, job.seqLen, rng);
      const out = await model.forward(batch, { labels: batch });
      const loss = (await out.loss!.data())[0]!;
      out.loss!.backward();
      out.loss!.dispose();
      out.logits.dispose();
      await clipGradNorm(model.namedParameters().map(([, p]) => p), 1.0);
      opt.update();
      model.zeroGrad();
      if (!Number.isFinite(loss)) throw new Error(`train: the loss is ${loss} at step ${step}; lower the learning rate`);
      losses.push(loss);
      emit({ type: 'loss', step, loss });
    }
    const seconds = (performance.now() - t0) / 1000;
    model.requiresGrad_(false);
    let sample = '';
    if (job.sampleChars > 0) {
      emit({ type: 'status', text: 'sampling from the trained model' });
      const first = corpus.ids[0]!;
      const out = await model.generate([[first]], { maxNewTokens: job.sampleChars, doSample: true, temperature: 0.8, seed: job.seed, eosTokenId: null });
      sample = out[0]!.map((id) => corpus.chars[id]!).join('');
    }
    return { losses, seconds, parameters: model.parameterCount(), sample };
  } finally {
    opt.dispose();
    model.dispose();
  }
}
