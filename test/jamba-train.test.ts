/** `mamba-ts train` on a Jamba (attention + Mamba + MoE): the loss falls, the expert load is reported, the checkpoint reloads. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { JambaForCausalLM } from '../src/models/jamba/modeling.js';
import { parseTrainConfig } from '../src/train/train-config.js';
import { runTraining } from '../src/train/trainer.js';
import { SHARED } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'mamba-ts-jamba-train-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const corpusPath = join(tmp, 'corpus.txt');
writeFileSync(corpusPath, readFileSync(resolve(SHARED, 'data/text/tinyshakespeare.txt'), 'utf8').slice(0, 30000));

const jamba = {
  model_type: 'jamba', hidden_size: 32, intermediate_size: 64, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2,
  num_experts: 4, num_experts_per_tok: 2, expert_layer_period: 2, expert_layer_offset: 1, attn_layer_period: 4, attn_layer_offset: 2,
  mamba_d_state: 8, router_aux_loss_coef: 0.01,
};

test('a small Jamba trains: validation loss falls, every MoE layer reports its expert load, the checkpoint reloads', async () => {
  const outDir = join(tmp, 'run');
  const cfg = (steps: number) =>
    parseTrainConfig({ model: jamba, data: { path: corpusPath }, steps, batchSize: 4, seqLen: 32, lr: 0.003, warmupSteps: 3, evalInterval: steps, evalBatches: 2, checkpointInterval: steps, outDir, seed: 1 }, 'jamba config');
  const r = await runTraining(cfg(30));
  // Untrained, the loss is about ln(vocabulary) (4.1 nats for these ~60 characters).
  assert.ok(r.finalValidLoss < 3.3, `validation loss after 30 steps: ${r.finalValidLoss}`);
  assert.equal(r.expertLoad?.length, 2, 'two MoE layers (1 and 3)');
  for (const layer of r.expertLoad!) {
    assert.equal(layer.length, 4);
    assert.ok(Math.abs(layer.reduce((a, b) => a + b, 0) - 1) < 1e-9);
  }
  const model = await JambaForCausalLM.fromPretrained(r.checkpoint);
  assert.equal(model.config.fields.num_experts, 4);
  const out = await model.forward([[1, 2, 3]], { labels: [[1, 2, 3]] });
  assert.ok(Number.isFinite((await out.loss!.data())[0]!));
  model.dispose();
});

test('resuming a Jamba run from a Mamba checkpoint is refused by name', async () => {
  const outDir = join(tmp, 'mixed');
  await runTraining(parseTrainConfig({ model: { hidden_size: 16, num_hidden_layers: 1 }, data: { path: corpusPath }, steps: 1, warmupSteps: 0, batchSize: 2, seqLen: 16, evalBatches: 1, outDir }, 'mamba config'));
  await assert.rejects(
    runTraining(parseTrainConfig({ model: jamba, data: { path: corpusPath }, steps: 2, warmupSteps: 0, batchSize: 2, seqLen: 16, evalBatches: 1, outDir }, 'jamba config'), { resume: true }),
    /config\.json: model_type "mamba": not a Jamba checkpoint/,
  );
});

test('an unknown model_type is refused by name', async () => {
  await assert.rejects(
    runTraining(parseTrainConfig({ model: { model_type: 'mixtral' }, data: { path: corpusPath }, steps: 1, warmupSteps: 0, outDir: join(tmp, 'x') }, 'c')),
    /model\.model_type "mixtral" cannot be trained here/,
  );
});
