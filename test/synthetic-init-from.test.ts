/** A synthetic experiment's `initFrom`: a run that starts from a trained model's weights (a length curriculum). */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runSynthetic } from '../src/experiments/run-synthetic.js';
import { parseSyntheticConfig, type SyntheticConfig } from '../src/experiments/synthetic-config.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { FormatError } from '../src/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'mamba-ts-synthetic-init-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const config = (name: string, more: Record<string, unknown> = {}): SyntheticConfig =>
  parseSyntheticConfig(
    {
      task: 'selective-copying', model: { hidden_size: 16, num_hidden_layers: 1 }, memorize: 4, trainLength: 16, steps: 6, lr: 0.01, schedule: 'constant',
      weightDecay: 0, batchSize: 4, evalInterval: 3, testLengths: [16], testBatches: 1, testBatchSize: 4, outDir: join(tmp, name), ...more,
    },
    `${name}.json`,
  );

async function weights(dir: string): Promise<Map<string, Float32Array>> {
  const m = await MambaForCausalLM.fromPretrained(dir);
  try {
    return new Map(await Promise.all(m.namedParameters().map(async ([n, p]) => [n, (await p.value.data()) as Float32Array] as const)));
  } finally {
    m.dispose();
  }
}

/** The largest |a − b| over all parameters. */
function maxDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  let d = 0;
  for (const [n, x] of a) x.forEach((v, i) => (d = Math.max(d, Math.abs(v - b.get(n)![i]!))));
  return d;
}

test('a run with initFrom starts from that model: one step at a tiny lr keeps its weights, a fresh run does not', async () => {
  await runSynthetic(config('first'));
  const first = await weights(join(tmp, 'first', 'model'));
  // Adam moves each weight by about lr in a step, so lr 1e-9 leaves the starting weights to ~1e-9.
  await runSynthetic(config('curriculum', { initFrom: join(tmp, 'first', 'model'), steps: 1, lr: 1e-9, minLr: 0, seed: 3, trainLength: 24, testLengths: [24] }));
  assert.ok(maxDiff(first, await weights(join(tmp, 'curriculum', 'model'))) < 1e-6);
  await runSynthetic(config('fresh', { steps: 1, lr: 1e-9, minLr: 0, seed: 3, trainLength: 24, testLengths: [24] }));
  assert.ok(maxDiff(first, await weights(join(tmp, 'fresh', 'model'))) > 1e-2, 'without initFrom the seed initialises the model');
});

test('initFrom refuses another architecture by field (the S6/LTI switch included) and a folder without a model', async () => {
  const from = join(tmp, 'first', 'model');
  await assert.rejects(runSynthetic(config('lti', { initFrom: from, model: { hidden_size: 16, num_hidden_layers: 1, selective: false } })), (e: Error) => {
    assert.ok(e instanceof FormatError);
    assert.match(e.message, /config\.json.*selective is true there but false in the experiment/s);
    return true;
  });
  await assert.rejects(runSynthetic(config('wide', { initFrom: from, model: { hidden_size: 32, num_hidden_layers: 1 } })), /hidden_size is 16 there but 32/);
  await assert.rejects(runSynthetic(config('none', { initFrom: join(tmp, 'no-such-model') })), /no-such-model: "initFrom": expected the folder of a trained model/);
  await assert.rejects(runSynthetic(config('file', { initFrom: join(from, 'model.safetensors') })), /model\.safetensors: "initFrom": expected the folder of a trained model/);
  assert.throws(() => config('bad', { initFrom: 7 }), /field "initFrom": expected the folder of a trained model/);
});
