/**
 * Forecasting model folders: config.json (the model's fields + `model_type`, and what is needed to
 * use it on raw data: `columns` and the train split's `scaler`) and model.safetensors. Written
 * beside the target and swapped in whole, so a crash never leaves a half-written model.
 */
import type { DeviceName } from '../backend/registry.js';
import { FormatError } from '../errors.js';
import { readConfig } from '../io/hf-folder.js';
import { jsonKind } from '../io/json.js';
import { joinPath, replaceDir } from '../io/platform.js';
import { DLinear, parseDLinearConfig } from '../models/dlinear/model.js';
import { parseTSM2Config } from '../models/mambamixer/tsm2/config.js';
import { TSM2 } from '../models/mambamixer/tsm2/model.js';
import { loadParametersFromFolder, saveModule } from '../models/pretrained.js';
import type { SplitRows, Standardizer } from './dataset.js';
import { parseColumns, parseSplit, parseStandardizer } from './meta.js';
import { quoteBounded } from './numbers.js';
import type { Forecaster } from './forecaster.js';
import type { ProgressCallback } from '../io/progress.js';

export const FORECAST_MODEL_TYPES = ['tsm2', 'dlinear'] as const;

/** What a model folder carries beside the weights. */
export interface ForecastMeta {
  columns: string[];
  scaler: Standardizer;
  /** The rows per split training used (checked on load; `forecast --evaluate` repeats it). */
  split?: SplitRows;
  /** Free-form: the training run's metrics, data file, split. */
  [key: string]: unknown;
}

/** A model from its config fields (`model_type` picks the family). */
export function createForecaster(raw: Record<string, unknown>, source: string, device: DeviceName): Forecaster {
  const type = raw['model_type'];
  if (type === 'tsm2') return new TSM2(parseTSM2Config(raw, source), device);
  if (type === 'dlinear') return new DLinear(parseDLinearConfig(raw, source), device);
  throw new FormatError(source, `field "model_type": expected one of ${FORECAST_MODEL_TYPES.map((t) => `"${t}"`).join(', ')}, got ${typeof type === 'string' ? quoteBounded(type) : jsonKind(type)}`);
}

export async function saveForecaster(dir: string, model: Forecaster, meta: ForecastMeta): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  await saveModule(model, tmp, { ...model.toJSON(), ...meta });
  await replaceDir(tmp, dir);
}

export async function loadForecaster(dir: string, device: DeviceName, o: { progressCallback?: ProgressCallback } = {}): Promise<{ model: Forecaster; meta: ForecastMeta }> {
  const file = joinPath(dir, 'config.json');
  const raw = await readConfig(dir);
  const model = createForecaster(raw, file, device);
  try {
    const M = model.config.n_vars;
    const columns = parseColumns(raw['columns'], M, file);
    const scaler = parseStandardizer(raw['scaler'], M, file);
    const split = parseSplit(raw['split'], file);
    await loadParametersFromFolder(model, dir, { device, progressCallback: o.progressCallback });
    return { model, meta: { ...raw, columns, scaler, ...(split ? { split } : {}) } };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
