/** A summary of a forecasting model (a folder's or a bare config.json's) for `mamba-ts info`. */
import type { Forecaster } from './forecaster.js';

export interface ForecasterDescription {
  architecture: string;
  modelType: string;
  parameters: number;
  lookback: number;
  horizon: number;
  /** The variate names, when the config has them (a trained folder's does). */
  columns: string[] | null;
  variates: number;
  /** The model's other config fields (patching, widths, layers, …). */
  fields: Record<string, unknown>;
  weightBytes: number;
  /** What training recorded in config.json (test_mse, test_mae, best_epoch, …), when present. */
  recorded: Record<string, number>;
}

const ARCHITECTURES = new Map<string, string>([
  ['tsm2', 'TSM2 (MambaMixer for time series)'],
  ['dlinear', 'DLinear'],
]);
const RECORDED = ['best_epoch', 'val_mse', 'test_mse', 'test_mae', 'test_windows'];

export function describeForecaster(model: Forecaster, raw: Record<string, unknown>): ForecasterDescription {
  const { model_type: modelType, lookback, horizon, n_vars: variates, ...fields } = model.toJSON() as Record<string, unknown> & { model_type: string };
  const recorded: Record<string, number> = {};
  for (const k of RECORDED) if (typeof raw[k] === 'number') recorded[k] = raw[k] as number;
  const columns = raw['columns'];
  return {
    architecture: ARCHITECTURES.get(modelType) ?? modelType,
    modelType,
    parameters: model.parameterCount(),
    lookback: lookback as number,
    horizon: horizon as number,
    columns: Array.isArray(columns) && columns.every((c) => typeof c === 'string') ? (columns as string[]) : null,
    variates: variates as number,
    fields,
    weightBytes: model.parameterCount() * 4,
    recorded,
  };
}
