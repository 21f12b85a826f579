/**
 * Forecasting: the CSV loader's errors, the TSLib protocol's windows, TSM2's time mixer acting per
 * variate, DLinear's moving average, the training loop end to end on a small slice of ETTh1 (the
 * tiny CPU config), and `mamba-ts forecast` with its bad-input errors.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { noGrad } from '../src/autograd/tape.js';
import { FormatError } from '../src/errors.js';
import { movingAverageMatrix } from '../src/models/dlinear/model.js';
import { parseTSM2Config } from '../src/models/mambamixer/tsm2/config.js';
import { TSM2 } from '../src/models/mambamixer/tsm2/model.js';
import * as ops from '../src/ops/index.js';
import { parseSeriesCsv } from '../src/timeseries/csv.js';
import { ETT_HOUR_SPLIT, forecastSplits } from '../src/timeseries/dataset.js';
import { parseForecastConfig } from '../src/train/forecast-config.js';
import { runForecastTraining } from '../src/train/forecast-trainer.js';
import { assertClose, randomArray, SHARED } from './helpers.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = resolve(ROOT, 'dist/src/cli/main.js');
const ETTH1 = join(SHARED, 'data/ett/ETTh1.csv');

test('the CSV loader refuses missing columns, non-numeric cells and short files, naming file, row and column', () => {
  const csv = 'date,a,b\n2020-01-01,1,2\n2020-01-02,3,x\n';
  assert.throws(() => parseSeriesCsv(csv, 'f.csv', { columns: ['a', 'c'] }), (e: Error) => e instanceof FormatError && /f\.csv: missing column\(s\) "c"; the file has "date", "a", "b"/.test(e.message));
  assert.throws(() => parseSeriesCsv(csv, 'f.csv'), /f\.csv: row 3, column "b": "x" is not a number/);
  const ok = parseSeriesCsv('date,a\n1,1\n2,2\n3,3\n', 'g.csv');
  assert.throws(() => forecastSplits(ok, 'g.csv', 2, 1, { train: 2, val: 1, test: 0 }), /g\.csv: the train split has 2 rows, too few for one window of lookback 2 \+ horizon 1 = 3 rows/);
  assert.throws(() => forecastSplits(ok, 'g.csv', 2, 1), /g\.csv: 3 data rows, but the split needs 14400/);
});

test('ETTh1 under the TSLib protocol: borders, train-only statistics, 2785 test windows at H=96', () => {
  const t = parseSeriesCsv(readFileSync(ETTH1, 'utf8'), ETTH1);
  assert.deepEqual(t.columns, ['HUFL', 'HULL', 'MUFL', 'MULL', 'LUFL', 'LULL', 'OT']);
  assert.equal(t.rows, 17420);
  const d = forecastSplits(t, ETTH1, 512, 96);
  assert.deepEqual([d.train.count, d.val.count, d.test.count], [8640 - 608 + 1, 2880 - 96 + 1, 2785]);
  // The first test window's x starts at row 11520 − 512, standardised with the train statistics.
  const M = 7;
  const { x } = d.test.batch([0]);
  const row = 11520 - 512;
  for (let j = 0; j < M; j++) assert.ok(Math.abs(x[j]! - (t.values[row * M + j]! - d.scaler.mean[j]!) / d.scaler.std[j]!) < 1e-5);
  assert.equal(ETT_HOUR_SPLIT.train, 8640);
});

test("TSM2's time mixer acts per variate: permuting the input's variates permutes its output identically", async () => {
  const c = parseTSM2Config({ lookback: 32, horizon: 8, n_vars: 4, patch_len: 8, patch_stride: 4, d_model: 8, n_layers: 2, d_state: 4 }, 'test');
  const m = new TSM2(c);
  m.initWeights(3);
  const perm = [2, 0, 3, 1];
  const B = 2;
  const x = randomArray(B * 32 * 4, 5, -2, 2);
  const xp = new Float32Array(x.length);
  for (let i = 0; i < B * 32; i++) for (let j = 0; j < 4; j++) xp[i * 4 + j] = x[i * 4 + perm[j]!]!;
  // y_Token^(1): the first time block's output (B, M, N, d).
  const first = async (v: Float32Array) => {
    const r = noGrad(() => m.run(ops.tensor(v, [B, 32, 4])));
    const y = (await r.trace.token[1]!.data()) as Float32Array;
    return y;
  };
  const y = await first(x);
  const yp = await first(xp);
  const per = y.length / (B * 4);
  const want = new Float32Array(y.length);
  for (let b = 0; b < B; b++) for (let j = 0; j < 4; j++) want.set(y.subarray((b * 4 + perm[j]!) * per, (b * 4 + perm[j]! + 1) * per), (b * 4 + j) * per);
  assertClose('time mixer output of permuted variates', yp, want, 1e-6);
  // …whereas the variate mixer does mix variates: its output is not a permutation.
  m.dispose();
});

test("DLinear's moving average matrix: kernel 5 with the ends repeated", () => {
  const L = 7;
  const a = movingAverageMatrix(L, 5);
  const x = [3, 1, 4, 1, 5, 9, 2];
  for (let t = 0; t < L; t++) {
    let want = 0;
    for (let j = -2; j <= 2; j++) want += x[Math.min(L - 1, Math.max(0, t + j))]! / 5;
    let got = 0;
    for (let s = 0; s < L; s++) got += x[s]! * a[s * L + t]!;
    assert.ok(Math.abs(got - want) < 1e-6, `t=${t}: ${got} vs ${want}`);
  }
});

test('the tiny CPU config trains TSM2 end to end, saves the best model, and `mamba-ts forecast` reproduces its test MSE; bad input is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsm2-'));
  const raw = JSON.parse(readFileSync(resolve(ROOT, 'experiments/tsm2/tiny-cpu.json'), 'utf8')) as Record<string, unknown>;
  const c = parseForecastConfig({ ...raw, data: { ...(raw['data'] as object), path: ETTH1 }, outDir: dir }, 'tiny-cpu.json');
  const r = await runForecastTraining(c);
  assert.equal(r.epochs.length, 2);
  assert.ok(r.epochs[1]!.trainMse < r.epochs[0]!.trainMse + 0.5);
  assert.ok(Number.isFinite(r.test.mse) && r.test.mse > 0 && r.test.mse < 3, `test MSE ${r.test.mse}`);
  assert.equal(r.test.windows, 120 - 24 + 1);
  const model = join(dir, 'model');
  const cfg = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(cfg['model_type'], 'tsm2');
  assert.deepEqual(cfg['columns'], ['HUFL', 'HULL', 'MUFL', 'MULL', 'LUFL', 'LULL', 'OT']);
  const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  // --evaluate recomputes the recorded test MSE.
  const ev = cli('forecast', '--model', model, '--csv', ETTH1, '--evaluate');
  assert.equal(ev.status, 0, ev.stderr);
  assert.match(ev.stdout, new RegExp(`test MSE ${r.test.mse.toFixed(4)} .* over 97 windows \\(recorded at training: MSE ${r.test.mse.toFixed(4)}\\)`));
  // A forecast with the truth, as CSV and SVG.
  const out = join(dir, 'f.csv');
  const svg = join(dir, 'f.svg');
  const ok = cli('forecast', '--model', model, '--csv', ETTH1, '--end', '600', '--horizon', '12', '--out', out, '--plot', svg);
  assert.equal(ok.status, 0, ok.stderr);
  const rows = readFileSync(out, 'utf8').trim().split('\n');
  assert.equal(rows.length, 13);
  assert.match(rows[0]!, /^step,date,HUFL,.*,OT,HUFL_true,.*,OT_true$/);
  assert.match(readFileSync(svg, 'utf8'), /<svg[\s\S]*forecast \(12 steps\)[\s\S]*truth/);
  // Bad input.
  const lines = readFileSync(ETTH1, 'utf8').split('\n').slice(0, 80);
  const short = join(dir, 'five.csv');
  writeFileSync(short, lines.map((l) => l.split(',').slice(0, 6).join(',')).join('\n'));
  const cols = cli('forecast', '--model', model, '--csv', short, '--out', out);
  assert.notEqual(cols.status, 0);
  assert.match(cols.stderr, /five\.csv: 5 variate column\(s\) \(HUFL, HULL, MUFL, MULL, LUFL\), but the model forecasts 7/);
  const withNan = join(dir, 'nan.csv');
  const nanLines = [...lines];
  nanLines[70] = nanLines[70]!.replace(/,[^,]*$/, ',NaN');
  writeFileSync(withNan, nanLines.join('\n'));
  const nan = cli('forecast', '--model', model, '--csv', withNan, '--out', out);
  assert.notEqual(nan.status, 0);
  assert.match(nan.stderr, /nan\.csv: row 71 \(.*\), column "OT": missing value \(NaN\) inside the lookback window/);
  const long = cli('forecast', '--model', model, '--csv', ETTH1, '--horizon', '25', '--out', out);
  assert.notEqual(long.status, 0);
  assert.match(long.stderr, /--horizon must be an integer in \[1, 24\] \(the model forecasts 24 steps\), got 25/);
});
