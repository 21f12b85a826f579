/**
 * Forecast: the shipped TSM2 (models/tsm2-etth1-96) on the bundled ETTh1 sample, the lookback
 * window ending before row `end`, through the same forecastTable as `mamba-ts forecast`.
 */
import type { DeviceUsed, ForecastJob, ForecastResult } from '../protocol.js';
import { forecastTable, readCsvForModel } from './lib.js';
import { forecaster } from './models.js';
import { shipped } from './urls.js';

export const FORECAST_MODEL = 'models/tsm2-etth1-96';
export const FORECAST_DATA = 'data/etth1-sample.csv';

let csvText: Promise<string> | undefined;
function sampleCsv(): Promise<string> {
  csvText ??= fetch(shipped(FORECAST_DATA)).then((r) => {
    if (!r.ok) throw new Error(`${FORECAST_DATA}: HTTP ${r.status}`);
    return r.text();
  });
  csvText.catch(() => (csvText = undefined));
  return csvText;
}

export async function runForecast(job: ForecastJob, d: DeviceUsed): Promise<ForecastResult> {
  const [m, text] = await Promise.all([forecaster(shipped(FORECAST_MODEL).replace(/\/$/, ''), d), sampleCsv()]);
  const table = readCsvForModel(text, FORECAST_DATA, m.meta);
  const f = await forecastTable(m.model, m.meta, table, FORECAST_DATA, { end: job.end });
  const M = f.columns.length;
  const n = f.truth.length; // k steps × M
  const std = m.meta.scaler.std;
  let se = 0;
  let ae = 0;
  let seStd = 0;
  for (let i = 0; i < n; i++) {
    const e = f.forecast[i]! - f.truth[i]!;
    se += e * e;
    ae += Math.abs(e);
    seStd += (e / std[i % M]!) ** 2;
  }
  return {
    columns: f.columns,
    lookback: m.config.lookback,
    horizon: f.horizon,
    end: job.end,
    rows: table.rows,
    historyIndex: f.historyIndex,
    history: Array.from(f.history),
    forecast: Array.from(f.forecast),
    truth: Array.from(f.truth),
    truthIndex: f.truthIndex,
    mse: n > 0 ? se / n : null,
    mae: n > 0 ? ae / n : null,
    mseStandardized: n > 0 ? seStd / n : null,
  };
}
