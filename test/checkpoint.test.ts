/** Checkpoints: an interrupted and resumed run ends with exactly the weights of an uninterrupted one. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import '../src/autograd/backward.js';
import { MambaConfig } from '../src/models/mamba/config.js';
import { initMambaWeights } from '../src/models/mamba/init.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { RandomSource } from '../src/ops/random.js';
import { AdamW } from '../src/train/adamw.js';
import { CharCorpus, sampleWindows } from '../src/train/char-data.js';
import { loadCheckpoint, saveCheckpoint } from '../src/train/checkpoint.js';
import { SHARED } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'mamba-ts-ckpt-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const corpus = new CharCorpus(readFileSync(resolve(SHARED, 'data/text/tinyshakespeare.txt'), 'utf8').slice(0, 20000));
const config = MambaConfig.create({ hidden_size: 32, num_hidden_layers: 2, vocab_size: corpus.vocabSize, use_bias: false });

function fresh(): { model: MambaForCausalLM; opt: AdamW } {
  const model = new MambaForCausalLM(config);
  initMambaWeights(model, 5);
  model.requiresGrad_(true);
  return { model, opt: new AdamW(model.namedParameters(), { lr: 1e-2 }) };
}

async function steps(model: MambaForCausalLM, opt: AdamW, rng: RandomSource, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const batch = sampleWindows(corpus.ids, 4, 16, rng);
    const out = await model.forward(batch, { labels: batch });
    out.loss!.backward();
    out.loss!.dispose();
    out.logits.dispose();
    opt.update();
    model.zeroGrad();
  }
}

async function weights(model: MambaForCausalLM): Promise<Map<string, Float32Array>> {
  const m = new Map<string, Float32Array>();
  for (const [n, p] of model.namedParameters()) m.set(n, (await p.value.data()) as Float32Array);
  return m;
}

test('train 6 steps = train 3, checkpoint, load into a new model and optimizer, train 3', async () => {
  const a = fresh();
  await steps(a.model, a.opt, new RandomSource(9), 6);
  const straight = await weights(a.model);

  const b = fresh();
  const rng = new RandomSource(9);
  await steps(b.model, b.opt, rng, 3);
  const dir = join(tmp, 'ckpt');
  await saveCheckpoint(dir, b.model, b.opt, { step: 3, rngState: rng.state });
  await saveCheckpoint(dir, b.model, b.opt, { step: 3, rngState: rng.state }); // overwriting works
  assert.deepEqual(readdirSync(dir).sort(), ['checkpoint_complete.json', 'config.json', 'model.safetensors', 'optimizer.safetensors', 'trainer_state.json']);
  assert.deepEqual(readdirSync(tmp), ['ckpt'], 'no temporary or versioned folders left');

  const c = fresh();
  const st = await loadCheckpoint(dir, c.model, c.opt);
  assert.equal(st.step, 3);
  const rng2 = new RandomSource(0);
  rng2.state = st.rngState;
  await steps(c.model, c.opt, rng2, 3);
  const resumed = await weights(c.model);
  for (const [n, w] of straight) assert.deepEqual(Buffer.from(resumed.get(n)!.buffer), Buffer.from(w.buffer), n);
  for (const x of [a, b, c]) {
    x.opt.dispose();
    x.model.dispose();
  }
  assert.ok(existsSync(join(dir, 'config.json')));
});
