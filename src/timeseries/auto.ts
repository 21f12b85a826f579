/**
 * The forecasting counterpart of AutoModelForCausalLM: a TSM2 or DLinear folder (as `mamba-ts
 * train` with "task": "forecast" writes it, e.g. the bundled models/tsm2-etth1-96) loaded with what
 * it needs to forecast raw data: the variate names and the train split's scaler.
 *
 *   const m = await AutoModelForTimeSeriesForecasting.fromPretrained('models/tsm2-etth1-96');
 *   const next = await m.forecast(lastRows);   // lookback rows × variates → horizon rows × variates
 */
import { ArgumentError, FormatError } from '../errors.js';
import { readConfig } from '../io/hf-folder.js';
import type { ProgressCallback } from '../io/progress.js';
import { resolveDevice, type DeviceChoice } from '../models/auto.js';
import { checkOptionKeys, optionKeys } from '../options.js';
import type { SeriesTable } from './csv.js';
import { forecastTable } from './forecast.js';
import { F32_MAX, isFiniteF32 } from './numbers.js';
import type { Forecaster, ForecasterConfig } from './forecaster.js';
import { FORECAST_MODEL_TYPES, loadForecaster, type ForecastMeta } from './models.js';
import { quoteForMessage } from '../quote.js';

export interface ForecastLoadOptions {
  /** 'cpu' (default), 'webgpu', or 'auto' (WebGPU when an adapter can be had). */
  device?: DeviceChoice;
  /** Load progress: { status: 'loading', file, loaded, total, progress } after each tensor. */
  progressCallback?: ProgressCallback;
}

export const FORECAST_LOAD_OPTION_KEYS = optionKeys<ForecastLoadOptions>({ device: true, progressCallback: true });

/** A loaded forecasting model with its data description (columns, scaler, recorded metrics). */
export class ForecastingModel {
  constructor(
    /** The network: x (B, L, M) → (B, H, M) on the standardised scale. */
    readonly model: Forecaster,
    /** config.json beyond the model's fields: columns, scaler, and the training run's split and metrics. */
    readonly meta: ForecastMeta,
  ) {}

  get config(): ForecasterConfig {
    return this.model.config;
  }

  /** The variates, in the order of each row's values. */
  get columns(): string[] {
    return this.meta.columns;
  }

  parameterCount(): number {
    return this.model.parameterCount();
  }

  /**
   * The next `horizon` rows (default: the model's) after `history`, rows of one value per column on
   * the data's own scale; the last `lookback` rows of `history` are used.
   */
  async forecast(history: readonly (readonly number[])[], o: { horizon?: number } = {}): Promise<number[][]> {
    checkOptionKeys('forecast', o, ['horizon']);
    const M = this.columns.length;
    if (!Array.isArray(history) || history.some((r) => !Array.isArray(r) || r.length !== M)) {
      throw new ArgumentError(`forecast: expected history as rows of ${M} numbers (${this.columns.join(', ')}), i.e. number[][]`);
    }
    const L = this.config.lookback;
    if (history.length < L) throw new ArgumentError(`forecast: history has ${history.length} rows; the model reads the last ${L} (its lookback)`);
    history.forEach((row, i) =>
      row.forEach((v: unknown, j: number) => {
        // NaN is a missing value, refused by forecastTable only where it falls inside the window.
        if (typeof v !== 'number' || (!Number.isNaN(v) && !isFiniteF32(v))) {
          throw new ArgumentError(`forecast: history[${i}][${j}] (${this.columns[j]}) must be a number finite in float32 (|x| ≤ ${F32_MAX.toPrecision(8)}), got ${typeof v === 'number' ? v : typeof v}`);
        }
      }),
    );
    const table: SeriesTable = {
      columns: this.columns,
      index: history.map((_, i) => `row ${i}`),
      rows: history.length,
      values: Float32Array.from(history.flat()),
    };
    const f = await forecastTable(this.model, this.meta, table, 'history', { horizon: o.horizon });
    return Array.from({ length: f.horizon }, (_, h) => Array.from(f.forecast.subarray(h * M, (h + 1) * M)));
  }

  dispose(): void {
    this.model.dispose();
  }
}

export const AutoModelForTimeSeriesForecasting = {
  /** Loads a forecasting folder; its config.json's model_type picks the family (tsm2, dlinear). */
  async fromPretrained(dir: string, o: ForecastLoadOptions = {}): Promise<ForecastingModel> {
    checkOptionKeys('AutoModelForTimeSeriesForecasting.fromPretrained', o, FORECAST_LOAD_OPTION_KEYS);
    const type = (await readConfig(dir))['model_type'];
    if (!FORECAST_MODEL_TYPES.includes(type as (typeof FORECAST_MODEL_TYPES)[number])) {
      const hint = type === 'mamba' || type === 'jamba' ? ': it is a causal LM; load it with AutoModelForCausalLM.fromPretrained(dir)' : '';
      throw new FormatError(`${dir}/config.json`, `model_type ${quoteForMessage(type)} is not a forecasting model (expected one of ${FORECAST_MODEL_TYPES.join(', ')})${hint}`);
    }
    const { model, meta } = await loadForecaster(dir, await resolveDevice(o.device), { progressCallback: o.progressCallback });
    return new ForecastingModel(model, meta);
  },
};
