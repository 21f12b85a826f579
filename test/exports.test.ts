/**
 * What the package entry exports for training and forecasting: the LM trainer and the forecasting
 * trainer run tiny jobs through it, and AutoModelForTimeSeriesForecasting loads forecasting folders
 * (the bundled TSM2 and a fresh one) and forecasts as `mamba-ts forecast` does.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import * as lib from '../src/index.js';
import { SHARED } from './helpers.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = resolve(ROOT, 'dist/src/cli/main.js');
const ETTH1 = join(SHARED, 'data/ett/ETTh1.csv');
const BUNDLED_TSM2 = resolve(ROOT, 'models/tsm2-etth1-96');
const tmp = mkdtempSync(join(tmpdir(), 'mamba-ts-exports-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });

/** The first `n` data rows of ETTh1 as numbers (date column dropped). */
function ettRows(from: number, n: number): number[][] {
  return readFileSync(ETTH1, 'utf8').trim().split('\n').slice(1 + from, 1 + from + n).map((l) => l.split(',').slice(1).map(Number));
}

describe('trainers exported from the package entry', () => {
  test('the entry exports both trainers, their config parsers and the forecasting auto class', () => {
    for (const name of ['runTraining', 'parseTrainConfig', 'runForecastTraining', 'parseForecastConfig', 'evaluateForecaster', 'runImageTraining', 'AutoModelForTimeSeriesForecasting', 'pipeline'] as const) {
      assert.ok(name in lib && (typeof lib[name] === 'function' || typeof lib[name] === 'object'), `index lacks ${name}`);
    }
  });

  test('a tiny language-model run through the export trains, reports progress and leaves a loadable checkpoint', async () => {
    const corpus = join(tmp, 'corpus.txt');
    writeFileSync(corpus, readFileSync(resolve(SHARED, 'data/text/tinyshakespeare.txt'), 'utf8').slice(0, 6000));
    const c = lib.parseTrainConfig(
      { model: { hidden_size: 16, num_hidden_layers: 1 }, data: { path: corpus }, steps: 2, batchSize: 2, seqLen: 16, warmupSteps: 0, evalBatches: 1, outDir: join(tmp, 'lm') },
      'tiny.json',
    );
    const steps: number[] = [];
    const r = await lib.runTraining(c, { onProgress: (p) => steps.push(p.step) });
    assert.deepEqual(steps, [1, 2]);
    assert.ok(Number.isFinite(r.finalValidLoss) && r.finalValidLoss > 0);
    const model = await lib.AutoModelForCausalLM.fromPretrained(r.checkpoint);
    assert.equal(model.config.fields.hidden_size, 16);
    model.dispose();
  });

  test('a tiny forecasting run through the export; its folder loads, forecasts as the CLI does, and evaluates with progress', async () => {
    const raw = JSON.parse(readFileSync(resolve(ROOT, 'experiments/tsm2/tiny-cpu.json'), 'utf8')) as Record<string, unknown>;
    const c = lib.parseForecastConfig({ ...raw, data: { ...(raw['data'] as object), path: ETTH1 }, epochs: 1, maxStepsPerEpoch: 2, outDir: join(tmp, 'tsm2') }, 'tiny-cpu.json');
    const r = await lib.runForecastTraining(c);
    assert.equal(r.epochs.length, 1);
    assert.ok(Number.isFinite(r.test.mse));

    const m = await lib.AutoModelForTimeSeriesForecasting.fromPretrained(r.modelDir);
    assert.ok(m instanceof lib.ForecastingModel);
    assert.deepEqual([m.config.lookback, m.config.horizon, m.columns.length], [48, 24, 7]);
    const next = await m.forecast(ettRows(600 - 48, 48), { horizon: 5 });
    m.dispose();
    // `mamba-ts forecast --end 600` uses the same 48 rows.
    const out = join(tmp, 'f.csv');
    const f = cli('forecast', '--model', r.modelDir, '--csv', ETTH1, '--end', '600', '--horizon', '5', '--out', out);
    assert.equal(f.status, 0, f.stderr);
    const rows = readFileSync(out, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').slice(2, 9).map(Number));
    assert.equal(next.length, 5);
    next.forEach((row, h) => row.forEach((v, j) => assert.ok(Math.abs(v - rows[h]![j]!) <= 1e-4 * Math.max(1, Math.abs(v)), `step ${h + 1} column ${j}: ${v} vs ${rows[h]![j]}`)));

    // --evaluate shows its progress on stderr (stdout keeps the one result line); --quiet hides it.
    const ev = cli('forecast', '--model', r.modelDir, '--csv', ETTH1, '--evaluate');
    assert.equal(ev.status, 0, ev.stderr);
    assert.match(ev.stderr, /evaluating \|.*\| 97\/97 test windows/);
    assert.match(ev.stdout, /^tsm2 L=48 H=24: test MSE \d\.\d{4} MAE \d\.\d{4} over 97 windows \(recorded at training: MSE \d\.\d{4}\)\n$/);
    const quiet = cli('forecast', '--model', r.modelDir, '--csv', ETTH1, '--evaluate', '--quiet');
    assert.equal(quiet.stderr, '');
    assert.equal(quiet.stdout, ev.stdout);
  });
});

describe('the bundled TSM2 model', () => {
  test('AutoModelForTimeSeriesForecasting loads it; AutoModelForCausalLM points there and to `mamba-ts forecast`', async () => {
    const m = await lib.AutoModelForTimeSeriesForecasting.fromPretrained(BUNDLED_TSM2);
    assert.equal(m.parameterCount(), 259_580);
    assert.equal(m.meta['test_mse'], 0.37771124615373414);
    const next = await m.forecast(ettRows(0, 600)); // uses the last 512 rows
    assert.equal(next.length, 96);
    assert.ok(next.every((row) => row.length === 7 && row.every(Number.isFinite)));
    await assert.rejects(m.forecast(ettRows(0, 100)), /^ArgumentError: forecast: history has 100 rows; the model reads the last 512 \(its lookback\)$/);
    await assert.rejects(m.forecast([[1, 2]]), /forecast: expected history as rows of 7 numbers \(HUFL, HULL, MUFL, MULL, LUFL, LULL, OT\)/);
    m.dispose();
    await assert.rejects(
      lib.AutoModelForCausalLM.fromPretrained(BUNDLED_TSM2),
      (e: unknown) =>
        e instanceof lib.FormatError &&
        e.message === `${BUNDLED_TSM2}/config.json: model_type "tsm2" is a time-series forecasting model, not a causal LM: load it with AutoModelForTimeSeriesForecasting.fromPretrained(dir), or run \`mamba-ts forecast --model DIR --csv FILE\``,
    );
    await assert.rejects(lib.AutoModelForTimeSeriesForecasting.fromPretrained(resolve(ROOT, 'models/mamba-shakespeare')), /model_type "mamba" is not a forecasting model .*load it with AutoModelForCausalLM/);
  });

  test('`mamba-ts info` describes it', () => {
    const text = cli('info', '--model', BUNDLED_TSM2);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /architecture: +TSM2 .*model_type "tsm2"\), a forecasting model/);
    assert.match(text.stdout, /parameters: +259,580/);
    assert.match(text.stdout, /forecast: +the next 96 rows of 7 variates \(HUFL, .*, OT\) from the last 512/);
    assert.match(text.stdout, /recorded: .*test_mse 0\.3777/);
    assert.match(text.stdout, /use: +mamba-ts forecast --model /);
    const json = cli('info', '--model', BUNDLED_TSM2, '--json');
    const d = JSON.parse(json.stdout) as { parameters: number; horizon: number; lookback: number; columns: string[] };
    assert.deepEqual([d.parameters, d.lookback, d.horizon, d.columns.length], [259_580, 512, 96, 7]);
    // A bare config.json is enough (as for Jamba and ViM2): DLinear's two 96→24 linears with biases.
    const bare = join(tmp, 'dlinear.json');
    writeFileSync(bare, JSON.stringify({ model_type: 'dlinear', lookback: 96, horizon: 24, n_vars: 3 }));
    const dl = cli('info', '--model', bare);
    assert.equal(dl.status, 0, dl.stderr);
    assert.match(dl.stdout, /architecture: +DLinear .*\n.*parameters: +4,656\n.*the next 24 rows of 3 variates from the last 96/);
  });
});
