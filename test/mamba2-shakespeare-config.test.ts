/**
 * models/mamba2-shakespeare/train.json is the Mamba-2 side of the TinyShakespeare comparison with
 * the shipped Mamba-1 model: the same training (every field but the model and outDir) and a
 * parameter count within 2% of Mamba-1's.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { MambaConfig } from '../src/models/mamba/config.js';
import { Mamba2Config } from '../src/models/mamba2/config.js';
import { parseTrainConfig } from '../src/train/train-config.js';

const read = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
const MAMBA2 = 'models/mamba2-shakespeare/train.json';
const MAMBA1 = 'models/mamba-shakespeare/train.json';

test('the Mamba-2 TinyShakespeare config trains like the Mamba-1 one, with a parameter budget within 2%', () => {
  const m2 = read(MAMBA2);
  const m1 = read(MAMBA1);
  const training = (c: Record<string, unknown>) => ({ ...c, model: undefined, outDir: undefined });
  assert.deepEqual(training(m2), training(m1));
  const parsed = parseTrainConfig(m2, MAMBA2);
  assert.equal(parsed.steps, 600);
  const vocab = 65; // TinyShakespeare's characters
  const params2 = Mamba2Config.create({ ...(m2['model'] as object), vocab_size: vocab } as Parameters<typeof Mamba2Config.create>[0]).parameterCount();
  const params1 = MambaConfig.fromJSON(read('models/mamba-shakespeare/config.json'), 'models/mamba-shakespeare/config.json').parameterCount();
  assert.equal(params1, 2_644_992);
  assert.equal(params2, 2_609_040);
  assert.ok(Math.abs(params2 / params1 - 1) < 0.02, `${params2} against ${params1}`);
});
