/** A real (small) training run: mamba-tiny's shape on TinyShakespeare characters, seeded, on the CPU. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import '../src/autograd/backward.js';
import { noGrad } from '../src/autograd/tape.js';
import { MambaConfig } from '../src/models/mamba/config.js';
import { initMambaWeights } from '../src/models/mamba/init.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { RandomSource } from '../src/ops/random.js';
import { liveTensorCount } from '../src/tensor/memory.js';
import { AdamW, clipGradNorm } from '../src/train/adamw.js';
import { CharCorpus, sampleWindows } from '../src/train/char-data.js';
import { SHARED } from './helpers.js';

test('training lowers the validation loss (AdamW, clipping; 120 steps)', async () => {
  const text = readFileSync(resolve(SHARED, 'data/text/tinyshakespeare.txt'), 'utf8');
  const corpus = new CharCorpus(text);
  const { train, valid } = corpus.split(0.1);
  const model = new MambaForCausalLM(
    MambaConfig.create({ hidden_size: 64, num_hidden_layers: 2, vocab_size: corpus.vocabSize, state_size: 16, use_bias: false }),
  );
  initMambaWeights(model, 1);
  model.requiresGrad_(true);
  const opt = new AdamW(model.namedParameters(), { lr: 3e-3, weightDecay: 0.1 });
  const rng = new RandomSource(2);
  const validBatch = sampleWindows(valid, 8, 64, new RandomSource(3));
  const validLoss = async () => {
    const out = await noGrad(() => model.forward(validBatch, { labels: validBatch }));
    const v = (await out.loss!.data())[0]!;
    out.loss!.dispose();
    out.logits.dispose();
    return v;
  };
  const before = await validLoss();
  const tensors0 = liveTensorCount();
  for (let step = 0; step < 120; step++) {
    const batch = sampleWindows(train, 8, 64, rng);
    const out = await model.forward(batch, { labels: batch });
    out.loss!.backward();
    out.loss!.dispose();
    out.logits.dispose();
    await clipGradNorm(model.namedParameters().map(([, p]) => p), 1.0);
    opt.update();
    model.zeroGrad();
  }
  const after = await validLoss();
  // ln(65) ≈ 4.17 for a uniform guess; character statistics alone bring it near 3.3.
  console.log(`# validation loss ${before.toFixed(3)} → ${after.toFixed(3)}`);
  assert.ok(after < before - 1.0 && after < 2.7, `validation loss ${before.toFixed(3)} → ${after.toFixed(3)}`);
  // Steps leave nothing behind but the optimizer's moments (two per parameter) and the fused
  // optimizer's gradient norm.
  assert.equal(liveTensorCount(), tensors0 + 2 * model.namedParameters().length + 1);
  opt.dispose();
  model.dispose();
});
