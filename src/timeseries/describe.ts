/**
 * A summary of a forecasting model (a folder's or a bare config.json's) for `mamba-ts info`, from
 * its config alone: nothing is built (see models.ts's forecasterSize).
 */
import { forecasterSize } from './models.js';

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

const ARCHITECTURES: ReadonlyMap<string, string> = new Map([
  ['tsm2', 'TSM2 (MambaMixer for time series)'],
  ['dlinear', 'DLinear'],
]);
const RECORDED = ['best_epoch', 'val_mse', 'test_mse', 'test_mae', 'test_windows'];

export function describeForecaster(raw: Record<string, unknown>, source: string): ForecasterDescription {
  const { config, parameters } = forecasterSize(raw, source);
  const { model_type: modelType, lookback, horizon, n_vars: variates, ...fields } = config as unknown as Record<string, unknown> & { model_type: string };
  const recorded: Record<string, number> = {};
  for (const k of RECORDED) if (typeof raw[k] === 'number') recorded[k] = raw[k] as number;
  const columns = raw['columns'];
  return {
    architecture: ARCHITECTURES.get(modelType) ?? modelType,
    modelType,
    parameters,
    lookback: lookback as number,
    horizon: horizon as number,
    columns: Array.isArray(columns) && columns.every((c) => typeof c === 'string') ? (columns as string[]) : null,
    variates: variates as number,
    fields,
    weightBytes: parameters * 4,
    recorded,
  };
}
