/**
 * Forecasting raw data with a trained model folder: the last `lookback` rows before `end` (default:
 * the end of the file) → the next `horizon` rows of every column, on the data's own scale. Errors
 * name the file and what is wrong: other columns than the model's, NaNs in the window, a horizon
 * beyond the model's, too few rows.
 */
import { ArgumentError, FormatError } from '../errors.js';
import { noGrad } from '../autograd/tape.js';
import { tensor } from '../ops/index.js';
import { tidy } from '../tensor/memory.js';
import type { DeviceName } from '../backend/registry.js';
import { parseSeriesCsv, type SeriesTable } from './csv.js';
import { destandardize, firstNonFinite, standardize } from './dataset.js';
import { f32Text, quoteBounded } from './numbers.js';
import type { Forecaster } from './forecaster.js';
import type { ForecastMeta } from './models.js';

/** The model gave NaN or ±Infinity for a window whose values and scaler were fine. */
export class NonFiniteForecastError extends Error {
  override name = 'NonFiniteForecastError';
}

export interface ForecastOutput {
  columns: string[];
  /** The lookback rows' labels (first CSV column) and values (L, M). */
  historyIndex: string[];
  history: Float32Array;
  /** (H, M). */
  forecast: Float32Array;
  /** The file's rows after the window, up to H of them ((k, M)); empty when the window ends the file. */
  truth: Float32Array;
  truthIndex: string[];
  horizon: number;
}

/** Reads the CSV for `model`: exactly the model's variate columns (by name), missing cells allowed (checked in the window). */
export function readCsvForModel(text: string, source: string, meta: ForecastMeta): SeriesTable {
  const header = (text.slice(0, text.indexOf('\n') >= 0 ? text.indexOf('\n') : text.length)).trim().split(',').map((h) => h.trim());
  const variates = header.slice(1);
  if (variates.length !== meta.columns.length) {
    const shown = variates.slice(0, 16).map((c) => (c.length > 24 ? `${c.slice(0, 24)}…` : c)).join(', ');
    throw new FormatError(source, `${variates.length} variate column(s) (${shown}${variates.length > 16 ? ', …' : ''}), but the model forecasts ${meta.columns.length}: ${meta.columns.join(', ')}`);
  }
  return parseSeriesCsv(text, source, { columns: meta.columns, allowMissing: true });
}

export async function forecastTable(model: Forecaster, meta: ForecastMeta, t: SeriesTable, source: string, o: { horizon?: number; end?: number } = {}): Promise<ForecastOutput> {
  const { lookback: L, horizon: Hmax, n_vars: M } = model.config;
  const H = o.horizon ?? Hmax;
  if (!Number.isInteger(H) || H < 1 || H > Hmax) throw new ArgumentError(`forecast: --horizon must be an integer in [1, ${Hmax}] (the model forecasts ${Hmax} steps), got ${H}`);
  const end = o.end ?? t.rows;
  if (!Number.isInteger(end) || end < L || end > t.rows) {
    throw new ArgumentError(`forecast: the window must end at a row in [${L}, ${t.rows}] (lookback ${L}; ${source} has ${t.rows} data rows), got ${end}`);
  }
  const window = t.values.slice((end - L) * M, end * M);
  const bad = window.findIndex((v) => Number.isNaN(v));
  if (bad >= 0) {
    const row = end - L + Math.floor(bad / M);
    throw new FormatError(source, `row ${row + 2} (${quoteBounded(t.index[row]!)}), column "${t.columns[bad % M]}": missing value (NaN) inside the lookback window of rows ${end - L + 2}–${end + 1}`);
  }
  const device = (model as unknown as { device: DeviceName }).device;
  const z = standardize(window, M, meta.scaler);
  const far = firstNonFinite(z);
  if (far >= 0) {
    const row = end - L + Math.floor(far / M);
    const j = far % M;
    throw new FormatError(
      source,
      `row ${row + 2} (${quoteBounded(t.index[row]!)}), column "${t.columns[j]}": ${f32Text(window[far]!)} is too far from the training data (mean ${meta.scaler.mean[j]}, std ${meta.scaler.std[j]}): standardised, it leaves the float32 range the model computes in`,
    );
  }
  const pred = noGrad(() => tidy(() => model.forward(tensor(z, [1, L, M], { device }))));
  const p = (await pred.data()) as Float32Array;
  pred.dispose();
  const forecast = destandardize(p.slice(0, H * M), M, meta.scaler);
  // Finite input and scaler can still give a non-finite forecast (weights that are NaN or that
  // overflow); that is never a forecast to write out.
  const broken = firstNonFinite(forecast);
  if (broken >= 0) {
    throw new NonFiniteForecastError(`forecast: the model's output is ${forecast[broken]} at step ${Math.floor(broken / M) + 1}, column "${t.columns[broken % M]}"; its weights (or scaler) do not give a usable forecast for this window`);
  }
  const k = Math.min(H, t.rows - end);
  return {
    columns: t.columns,
    historyIndex: t.index.slice(end - L, end),
    history: window,
    forecast,
    truth: t.values.slice(end * M, (end + k) * M),
    truthIndex: t.index.slice(end, end + k),
    horizon: H,
  };
}

/** step,<columns> for the forecast rows (step 1..H), plus the truth as <column>_true when present. */
export function forecastCsv(f: ForecastOutput): string {
  const M = f.columns.length;
  const k = f.truthIndex.length;
  const head = ['step', ...(k ? ['date'] : []), ...f.columns, ...(k ? f.columns.map((c) => `${c}_true`) : [])];
  const lines = [head.join(',')];
  for (let h = 0; h < f.horizon; h++) {
    const row: (string | number)[] = [h + 1];
    if (k) row.push(f.truthIndex[h] ?? '');
    for (let j = 0; j < M; j++) row.push(f.forecast[h * M + j]!);
    if (k) for (let j = 0; j < M; j++) row.push(h < k ? f.truth[h * M + j]! : '');
    lines.push(row.join(','));
  }
  return `${lines.join('\n')}\n`;
}
