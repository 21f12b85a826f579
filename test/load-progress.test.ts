/**
 * Progress while loading a checkpoint: the library's progressCallback (transformers.js's event shape)
 * and the command line's bar, which appears only for checkpoints large enough to take a while.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { AutoModelForCausalLM } from '../src/models/auto.js';
import { AutoModelForTimeSeriesForecasting } from '../src/timeseries/auto.js';
import type { ProgressInfo } from '../src/io/progress.js';
import { LOAD_BAR_MIN_BYTES, loadProgressBar } from '../src/cli/progress.js';
import { fixture } from './helpers.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const MAMBA = fixture('hf', 'mamba-tiny', 'model');

/** Checks a load's events: 'loading', growing to loaded = total = `bytes`, progress in percent. */
function checkEvents(events: ProgressInfo[], bytes: number, file: RegExp): void {
  assert.ok(events.length > 1);
  let last = 0;
  for (const e of events) {
    assert.equal(e.status, 'loading');
    assert.match(e.file, file);
    assert.ok(e.loaded > last, `loaded ${e.loaded} after ${last}`);
    assert.equal(e.total, bytes);
    assert.equal(e.progress, (100 * e.loaded) / e.total);
    last = e.loaded;
  }
  assert.equal(events.at(-1)!.loaded, bytes);
  assert.equal(events.at(-1)!.progress, 100);
}

describe('checkpoint load progress', () => {
  test('AutoModelForCausalLM reports each tensor loaded, up to every byte of the weights (Mamba and Jamba)', async () => {
    for (const name of ['mamba-tiny', 'jamba-tiny']) {
      const events: ProgressInfo[] = [];
      const model = await AutoModelForCausalLM.fromPretrained(fixture('hf', name, 'model'), { progressCallback: (e) => events.push(e) });
      checkEvents(events, model.parameterCount() * 4, /model\.safetensors$/); // the fixtures are float32
      assert.equal(events.length, model.namedParameters().length);
      model.dispose();
    }
  });

  test('forecasting folders report too', async () => {
    const events: ProgressInfo[] = [];
    const m = await AutoModelForTimeSeriesForecasting.fromPretrained(resolve(ROOT, 'models/tsm2-etth1-96'), { progressCallback: (e) => events.push(e) });
    checkEvents(events, m.parameterCount() * 4, /tsm2-etth1-96\/model\.safetensors$/);
    m.dispose();
  });

  test('the command line draws a bar for large checkpoints only', async () => {
    const drawn = async (minBytes?: number): Promise<string> => {
      const stream = new PassThrough();
      let text = '';
      stream.on('data', (d: Buffer) => (text += d.toString()));
      const bar = loadProgressBar({ stream, ...(minBytes !== undefined ? { minBytes } : {}) });
      const model = await AutoModelForCausalLM.fromPretrained(MAMBA, { progressCallback: bar.callback }).finally(bar.stop);
      model.dispose();
      return text;
    };
    assert.ok(98_240 * 4 < LOAD_BAR_MIN_BYTES);
    assert.equal(await drawn(), '');
    const text = await drawn(0);
    assert.match(text, /loading .*model\.safetensors \|.*\| 100% \| 0\.4\/0\.4 MiB/);
  });
});
