/** The LTI ablation (selective: false) and a short experiment run (the tasks' data and answer alignment: synthetic-alignment.test.ts). */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseSyntheticConfig } from '../src/experiments/synthetic-config.js';
import { runSynthetic } from '../src/experiments/run-synthetic.js';
import { MambaConfig } from '../src/models/mamba/config.js';
import { initMambaWeights } from '../src/models/mamba/init.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { assertClose } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'mamba-ts-synthetic-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('the LTI ablation: same parameters, other outputs; its recurrent step equals its parallel form', async () => {
  const make = (selective: boolean) => {
    const m = new MambaForCausalLM(MambaConfig.create({ hidden_size: 32, num_hidden_layers: 2, vocab_size: 16, selective }));
    initMambaWeights(m, 5);
    return m;
  };
  const [s6, lti] = [make(true), make(false)];
  assert.equal(lti.parameterCount(), s6.parameterCount());
  const ids = [[1, 5, 9, 2, 7, 3, 3, 8]];
  const a = (await (await s6.forward(ids)).logits.data()) as Float32Array;
  const full = await lti.forward(ids);
  const b = (await full.logits.data()) as Float32Array;
  assert.ok(a.some((v, i) => Math.abs(v - b[i]!) > 1e-3), 'selection changed nothing');
  // Prefill 7 tokens, then one step through the cache = the last position of the parallel pass.
  const cache = lti.createCache(1);
  lti.nextLogits([ids[0]!.slice(0, 7)], cache).dispose();
  const step = (await lti.nextLogits([[ids[0]![7]!]], cache).data()) as Float32Array;
  assertClose('LTI step logits', step, b.subarray(7 * 16), 1e-5);
  // selective: false is kept in config.json (a mamba-ts field), true is left out (HF's layout).
  assert.equal(lti.config.toJSON()['selective'], false);
  assert.equal('selective' in s6.config.toJSON(), false);
});

test('an experiment trains, measures accuracy per test length and writes results.json', async () => {
  const bad = (raw: Record<string, unknown>) => () => parseSyntheticConfig({ task: 'selective-copying', outDir: tmp, ...raw }, 'x.json');
  assert.throws(bad({ task: 'copying' }), /x\.json: field "task"/);
  assert.throws(bad({ testLengths: [20], memorize: 16 }), /needs lengths >= 2 × memorize/);
  assert.throws(bad({ stepz: 3 }), /unknown field\(s\) stepz/);
  const c = parseSyntheticConfig(
    { task: 'induction-heads', model: { hidden_size: 16, num_hidden_layers: 1 }, trainLength: 32, steps: 3, warmupSteps: 1, batchSize: 4, evalInterval: 3, testLengths: [32, 64], testBatches: 1, testBatchSize: 4, outDir: join(tmp, 'ih') },
    'test',
  );
  const lines: Record<string, unknown>[] = [];
  const r = await runSynthetic(c, (l) => lines.push(l));
  assert.deepEqual(r.accuracy.map((a) => a.length), [32, 64]);
  assert.ok(r.accuracy.every((a) => a.accuracy >= 0 && a.accuracy <= 1));
  assert.equal(lines.length, 3);
  const saved = JSON.parse(readFileSync(join(tmp, 'ih', 'results.json'), 'utf8')) as { accuracy: unknown[] };
  assert.equal(saved.accuracy.length, 2);
});
