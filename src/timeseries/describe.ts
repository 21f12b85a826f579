/** A summary of a forecasting model folder for `mamba-ts info`. */
import type { ForecastingModel } from './auto.js';

export interface ForecasterDescription {
  architecture: string;
  modelType: string;
  parameters: number;
  lookback: number;
  horizon: number;
  columns: string[];
  /** The model's other config fields (patching, widths, layers, …). */
  fields: Record<string, unknown>;
  weightBytes: number;
  /** What training recorded in config.json (test_mse, test_mae, best_epoch, …), when present. */
  recorded: Record<string, number>;
}

const ARCHITECTURES: Record<string, string> = { tsm2: 'TSM2 (MambaMixer for time series)', dlinear: 'DLinear' };
const RECORDED = ['best_epoch', 'val_mse', 'test_mse', 'test_mae', 'test_windows'];

export function describeForecaster(m: ForecastingModel): ForecasterDescription {
  const { model_type: modelType, lookback, horizon, n_vars: _nVars, ...fields } = m.model.toJSON() as Record<string, unknown> & { model_type: string };
  const recorded: Record<string, number> = {};
  for (const k of RECORDED) if (typeof m.meta[k] === 'number') recorded[k] = m.meta[k] as number;
  return {
    architecture: ARCHITECTURES[modelType] ?? modelType,
    modelType,
    parameters: m.parameterCount(),
    lookback: lookback as number,
    horizon: horizon as number,
    columns: m.columns,
    fields,
    weightBytes: m.parameterCount() * 4,
    recorded,
  };
}
