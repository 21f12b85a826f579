/**
 * Forecasting refuses numbers that would silently corrupt a forecast (issue 14): CSV cells that are
 * not decimal numbers ("0x10") or not finite in float32 (1e39), a model folder's scaler with a std
 * of 0, strings or nulls, history rows beyond float32, windows that leave float32 once
 * standardised, and a model whose output is not finite. Each error names the file (or argument),
 * the row and column, and the value, bounded in length.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ArgumentError, FormatError } from '../src/errors.js';
import { AutoModelForTimeSeriesForecasting } from '../src/timeseries/auto.js';
import { parseSeriesCsv } from '../src/timeseries/csv.js';
import { fitStandardizer, forecastSplits } from '../src/timeseries/dataset.js';
import { forecastTable, NonFiniteForecastError } from '../src/timeseries/forecast.js';
import { parseStandardizer } from '../src/timeseries/meta.js';
import { createForecaster } from '../src/timeseries/models.js';
import { parseForecastConfig } from '../src/train/forecast-config.js';
import { F32_MAX, parseDecimal } from '../src/timeseries/numbers.js';
import { tensor } from '../src/ops/index.js';
import { SHARED } from './helpers.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = resolve(ROOT, 'dist/src/cli/main.js');
const ETTH1 = join(SHARED, 'data/ett/ETTh1.csv');
const BUNDLED_TSM2 = resolve(ROOT, 'models/tsm2-etth1-96');
const tmp = mkdtempSync(join(tmpdir(), 'mamba-ts-forecast-input-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** ETTh1's header and first `n` data rows, with `edit` applied to data row `row` (0-based) column `col` (1 = HUFL … 7 = OT). */
function ettCsv(n: number, edit?: { row: number; col: number; value: string }): string {
  const lines = readFileSync(ETTH1, 'utf8').split('\n').slice(0, n + 1);
  if (edit) {
    const cells = lines[edit.row + 1]!.split(',');
    cells[edit.col] = edit.value;
    lines[edit.row + 1] = cells.join(',');
  }
  return `${lines.join('\n')}\n`;
}

const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });

describe('CSV cells are decimal numbers finite in float32', () => {
  test('the decimal grammar: sign, digits, fraction, exponent — not hex, binary, Infinity or blanks', () => {
    for (const [text, want] of [['-1.5e3', -1500], ['.5', 0.5], ['5.', 5], ['+2', 2], ['1E-3', 0.001], ['007', 7]] as const) assert.equal(parseDecimal(text), want, text);
    for (const text of ['0x10', '0b1', '0o7', 'Infinity', '-Infinity', '1e', 'e5', '.', '', ' ', '1_000', '1,5', '--1', '1e5.5', 'NaN']) assert.ok(Number.isNaN(parseDecimal(text)), text);
  });

  test('0x10 is refused, naming file, row, column and value (it was read as 16)', () => {
    const csv = 'date,a,b\n2020-01-01,1,2\n2020-01-02,0x10,3\n';
    assert.throws(() => parseSeriesCsv(csv, 'f.csv'), (e: Error) => e instanceof FormatError && e.message === 'f.csv: row 3, column "a": "0x10" is not a number (expected a decimal number such as -1.5e3)');
    assert.throws(() => parseSeriesCsv(csv, 'f.csv', { allowMissing: true }), /f\.csv: row 3, column "a": "0x10" is not a number \(expected a decimal number such as -1\.5e3; a missing value is written as an empty cell or NaN\)/);
  });

  test('1e39 (finite in float64, Infinity in float32) is refused; the float32 maximum itself is read', () => {
    const csv = (v: string) => `date,a,b\n2020-01-01,1,2\n2020-01-02,3,${v}\n`;
    assert.throws(() => parseSeriesCsv(csv('1e39'), 'f.csv'), (e: Error) => e instanceof FormatError && /^f\.csv: row 3, column "b": "1e39" is beyond the float32 range \(±3\.4028235e\+38\)/.test(e.message));
    assert.throws(() => parseSeriesCsv(csv('-3.5e38'), 'f.csv'), /row 3, column "b": "-3\.5e38" is beyond the float32 range/);
    assert.equal(parseSeriesCsv(csv(String(F32_MAX)), 'f.csv').values[3], F32_MAX);
    assert.equal(parseSeriesCsv(csv('-3.4028234e38'), 'f.csv').values[3], Math.fround(-3.4028234e38));
  });

  test('missing values: refused unless allowed; only an empty cell and NaN spell one', () => {
    assert.throws(() => parseSeriesCsv('date,a\n1,\n', 'f.csv'), /f\.csv: row 2, column "a": missing value \(empty cell\); every cell of the data columns must be a number/);
    assert.throws(() => parseSeriesCsv('date,a\n1,NaN\n', 'f.csv'), /f\.csv: row 2, column "a": missing value \("NaN"\)/);
    const t = parseSeriesCsv('date,a,b\n1,,nan\n2,NaN,4\n', 'f.csv', { allowMissing: true });
    assert.deepEqual(Array.from(t.values), [NaN, NaN, NaN, 4]);
    assert.throws(() => parseSeriesCsv('date,a\n1,NA\n', 'f.csv', { allowMissing: true }), /row 2, column "a": "NA" is not a number/);
    assert.throws(() => parseSeriesCsv('date,a\n1,Infinity\n', 'f.csv', { allowMissing: true }), /row 2, column "a": "Infinity" is not a number/);
  });

  test('messages quote a cell or a header name only up to a bounded length', () => {
    const long = '9'.repeat(100_000);
    assert.throws(() => parseSeriesCsv(`date,a\n1,${long}x\n`, 'f.csv'), (e: Error) => /row 2, column "a": "9{24}"… \(100,001 characters\) is not a number/.test(e.message) && e.message.length < 200);
    const header = `date,${'h'.repeat(50_000)}`;
    assert.throws(() => parseSeriesCsv(`${header}\n1,2\n`, 'f.csv', { columns: ['x'] }), (e: Error) => /missing column\(s\) "x"; the file has "date", "h{24}"… \([0-9,]+ characters\)$/.test(e.message));
    assert.throws(() => parseSeriesCsv('root:x:0:0:root:/root:/bin/bash\n', 'f.csv'), (e: Error) => e.message === 'f.csv: no variate columns: the header row has 1 column(s); expected date,<variate>,…');
  });

  test('a column named twice in the header is refused rather than one copy picked', () => {
    assert.throws(() => parseSeriesCsv('date,a,b,a\n1,2,3,4\n', 'f.csv', { columns: ['a', 'b'] }), /f\.csv: column "a" appears 2 times in the header \(columns 2, 4\)/);
  });

  test('`mamba-ts forecast` on a CSV with 1e39 or 0x10 in the window exits non-zero naming file, row, column and value (it wrote NaN forecasts and exited 0)', () => {
    const out = join(tmp, 'f.csv');
    const huge = join(tmp, 'huge.csv');
    writeFileSync(huge, ettCsv(600, { row: 590, col: 7, value: '1e39' }));
    const r = cli('forecast', '--model', BUNDLED_TSM2, '--csv', huge, '--out', out);
    assert.notEqual(r.status, 0, r.stdout);
    assert.match(r.stderr, /huge\.csv: row 592, column "OT": "1e39" is beyond the float32 range/);
    const hex = join(tmp, 'hex.csv');
    writeFileSync(hex, ettCsv(600, { row: 595, col: 1, value: '0x10' }));
    const h = cli('forecast', '--model', BUNDLED_TSM2, '--csv', hex, '--out', out);
    assert.notEqual(h.status, 0, h.stdout);
    assert.match(h.stderr, /hex\.csv: row 597, column "HUFL": "0x10" is not a number/);
  });
});

describe("a forecasting folder's scaler is checked on load", () => {
  const bundledConfig = JSON.parse(readFileSync(join(BUNDLED_TSM2, 'config.json'), 'utf8')) as Record<string, unknown>;
  const bundledScaler = bundledConfig['scaler'] as { mean: number[]; std: number[] };
  let n = 0;
  /** A copy of the bundled TSM2 folder with config.json edited. */
  function folderWith(edit: (c: Record<string, unknown>) => void): string {
    const dir = join(tmp, `tsm2-${n++}`);
    cpSync(BUNDLED_TSM2, dir, { recursive: true });
    const c = structuredClone(bundledConfig);
    edit(c);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(c));
    return dir;
  }
  const scalerWith = (key: 'mean' | 'std', j: number, v: unknown) =>
    folderWith((c) => {
      const s = c['scaler'] as Record<string, unknown[]>;
      s[key]![j] = v;
    });
  const refuses = async (dir: string, message: RegExp) =>
    assert.rejects(AutoModelForTimeSeriesForecasting.fromPretrained(dir), (e: Error) => e instanceof FormatError && e.message.startsWith(`${dir}/config.json: `) && message.test(e.message));

  test('std 0 is refused (every forecast of that variate was NaN)', async () => {
    await refuses(scalerWith('std', 3, 0), /field "scaler\.std\[3\]": 0 cannot scale a variate: a std must be at least 1\.1754944e-38 \(a constant column is written with std 1\)/);
    await refuses(scalerWith('std', 0, -2), /field "scaler\.std\[0\]": -2 cannot scale a variate/);
    await refuses(scalerWith('std', 0, 1e-40), /field "scaler\.std\[0\]": 1e-40 cannot scale a variate/);
  });

  test('strings and nulls are refused (a string gave NaN, mean: null gave wrong numbers)', async () => {
    await refuses(scalerWith('std', 1, '2.0'), /field "scaler\.std\[1\]": expected a number, got a string/);
    await refuses(scalerWith('mean', 6, null), /field "scaler\.mean\[6\]": expected a number, got null/);
    await refuses(folderWith((c) => ((c['scaler'] as Record<string, unknown>)['mean'] = null)), /field "scaler\.mean": expected an array of 7 numbers \(one per variate\), got null/);
    await refuses(folderWith((c) => (c['scaler'] = 'standard')), /field "scaler": expected \{ "mean": \[7 numbers\], "std": \[7 numbers\] \}.*, got a string/);
  });

  test('values beyond float32 and arrays of the wrong length are refused', async () => {
    await refuses(scalerWith('mean', 2, 1e39), /field "scaler\.mean\[2\]": 1e\+39 is beyond the float32 range/);
    await refuses(scalerWith('std', 2, 1e300), /field "scaler\.std\[2\]": 1e\+300 is beyond the float32 range/);
    await refuses(folderWith((c) => (c['scaler'] = { mean: bundledScaler.mean.slice(1), std: bundledScaler.std })), /field "scaler\.mean": expected an array of 7 numbers \(one per variate\), got an array of 6/);
  });

  test('columns named twice and a malformed split are refused', async () => {
    await refuses(folderWith((c) => ((c['columns'] as string[])[1] = 'HUFL')), /field "columns": "HUFL" is named twice/);
    await refuses(folderWith((c) => (c['split'] = { train: '8640', val: 2880, test: 2880 })), /field "split\.train": expected \{ "train": rows, "val": rows, "test": rows \} \(integers >= 1\), got a string/);
    await refuses(folderWith((c) => (c['split'] = { train: 8640, val: 0, test: 2880 })), /field "split\.val": .* got 0/);
  });

  test('the bundled scaler loads, and a fitted scaler always passes the load check (constant and near-constant columns get std 1)', async () => {
    const m = await AutoModelForTimeSeriesForecasting.fromPretrained(BUNDLED_TSM2);
    assert.deepEqual(m.meta.scaler, bundledScaler);
    m.dispose();
    // Columns: constant; subnormal spread (its std would be a float32 subnormal); the widest float32 spread; ordinary.
    const rows = [
      [5, 0, F32_MAX, 1],
      [5, 1e-45, -F32_MAX, 2],
      [5, 0, F32_MAX, 4],
      [5, 1e-45, -F32_MAX, 8],
    ];
    const fitted = fitStandardizer(Float32Array.from(rows.flat()), 4, rows.length);
    assert.deepEqual(fitted.std.slice(0, 2), [1, 1]);
    assert.ok(fitted.std[2]! > 3e38 && fitted.std[3]! > 2);
    assert.deepEqual(parseStandardizer(JSON.parse(JSON.stringify(fitted)), 4, 'fitted'), fitted);
  });
});

describe('values that leave float32 only once standardised, or in the output', () => {
  test('a later row far beyond the train split spread is refused when the splits are made', () => {
    // Train rows vary by 1e-30 around 0; a test row of 1e10 is 1e40 stds away.
    const rows = Array.from({ length: 12 }, (_, i) => `${i},${i % 2 ? 1e-30 : 0}`);
    rows[10] = '10,1e10';
    const t = parseSeriesCsv(`date,a\n${rows.join('\n')}\n`, 'f.csv');
    assert.throws(() => forecastSplits(t, 'f.csv', 2, 1, { train: 4, val: 4, test: 4 }), /f\.csv: row 12 \("10"\), column "a": 10000000000 is too far from the train split's mean 5\.0*\d*e-31 for its std 5\.0*\d*e-31: standardised, it leaves the float32 range$/);
  });

  test("history beyond float32 passed to ForecastingModel.forecast is refused", async () => {
    const m = await AutoModelForTimeSeriesForecasting.fromPretrained(BUNDLED_TSM2);
    try {
      const history = Array.from({ length: 512 }, () => [1, 1, 1, 1, 1, 1, 1]);
      history[300]![6] = 1e39;
      await assert.rejects(m.forecast(history), (e: Error) => e instanceof ArgumentError && /forecast: history\[300\]\[6\] \(OT\) must be a number finite in float32 .*, got 1e\+39/.test(e.message));
      history[300]![6] = '5' as unknown as number;
      await assert.rejects(m.forecast(history), /history\[300\]\[6\] \(OT\) must be a number .*, got string/);
      history[300]![6] = 1;
      history[400]![5] = 3e38; // finite in float32, but LULL's std is 0.63: 4.8e38 once standardised
      await assert.rejects(m.forecast(history), /history: row 402 \("row 400"\), column "LULL": 3e\+38 is too far from the training data \(mean 0\.788.*, std 0\.630.*\): standardised, it leaves the float32 range/);
    } finally {
      m.dispose();
    }
  });

  test('a model whose output is not finite gives NonFiniteForecastError, not a NaN forecast', async () => {
    const model = createForecaster({ model_type: 'dlinear', lookback: 8, horizon: 2, n_vars: 1 }, 'dlinear', 'cpu');
    try {
      model.initWeights(0);
      const [name, p] = model.namedParameters()[0]!;
      p.set(tensor(new Float32Array(p.shape.reduce((a, b) => a * b, 1)).fill(NaN), [...p.shape]), name);
      const meta = { columns: ['a'], scaler: { mean: [0], std: [1] } };
      const table = { columns: ['a'], index: Array.from({ length: 8 }, (_, i) => String(i)), rows: 8, values: new Float32Array(8).fill(1) };
      await assert.rejects(forecastTable(model, meta, table, 't.csv'), (e: Error) => e instanceof NonFiniteForecastError && /^forecast: the model's output is NaN at step 1, column "a"/.test(e.message));
    } finally {
      model.dispose();
    }
  });
});

describe('the forecasting train config', () => {
  const base = { task: 'forecast', model: { model_type: 'dlinear' }, lookback: 4, horizon: 2, outDir: 'o' };
  test('a split that is not an object is refused by name (null crashed with a TypeError)', () => {
    for (const [split, kind] of [[null, 'null'], [[1, 2, 3], 'an array'], ['8640', 'a string']] as const) {
      assert.throws(() => parseForecastConfig({ ...base, data: { path: 'a.csv', split } }, 'cfg.json'), (e: Error) => e instanceof FormatError && e.message === `cfg.json: field "data.split": expected { "train": rows, "val": rows, "test": rows }, got ${kind}`);
    }
  });

  test('a column named twice is refused', () => {
    assert.throws(() => parseForecastConfig({ ...base, data: { path: 'a.csv', columns: ['OT', 'HUFL', 'OT'] } }, 'cfg.json'), /cfg\.json: field "data\.columns": "OT" is named twice/);
  });
});
