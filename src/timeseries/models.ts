/**
 * Forecasting model folders: config.json (the model's fields + `model_type`, and what is needed to
 * use it on raw data: `columns` and the train split's `scaler`) and model.safetensors. Written
 * beside the target and swapped in whole, so a crash never leaves a half-written model.
 */
import type { DeviceName } from '../backend/registry.js';
import { FormatError } from '../errors.js';
import { joinPath, makeTempDir, readText, removeDir, replaceDir } from '../io/platform.js';
import { DLinear, parseDLinearConfig } from '../models/dlinear/model.js';
import { parseTSM2Config } from '../models/mambamixer/tsm2/config.js';
import { TSM2 } from '../models/mambamixer/tsm2/model.js';
import { loadParametersFromFolder, saveModule } from '../models/pretrained.js';
import type { Standardizer } from './dataset.js';
import type { Forecaster } from './forecaster.js';
import type { ProgressCallback } from '../io/progress.js';

export const FORECAST_MODEL_TYPES = ['tsm2', 'dlinear'] as const;

/** What a model folder carries beside the weights. */
export interface ForecastMeta {
  columns: string[];
  scaler: Standardizer;
  /** Free-form: the training run's metrics, data file, split. */
  [key: string]: unknown;
}

/** A model from its config fields (`model_type` picks the family). */
export function createForecaster(raw: Record<string, unknown>, source: string, device: DeviceName): Forecaster {
  const type = raw['model_type'];
  if (type === 'tsm2') return new TSM2(parseTSM2Config(raw, source), device);
  if (type === 'dlinear') return new DLinear(parseDLinearConfig(raw, source), device);
  throw new FormatError(source, `field "model_type": expected one of ${FORECAST_MODEL_TYPES.map((t) => `"${t}"`).join(', ')}, got ${JSON.stringify(type)}`);
}

export async function saveForecaster(dir: string, model: Forecaster, meta: ForecastMeta): Promise<void> {
  const tmp = await makeTempDir(dir);
  try {
    await saveModule(model, tmp, { ...model.toJSON(), ...meta });
  } catch (e) {
    await removeDir(tmp);
    throw e;
  }
  await replaceDir(tmp, dir);
}

export async function loadForecaster(dir: string, device: DeviceName, o: { progressCallback?: ProgressCallback } = {}): Promise<{ model: Forecaster; meta: ForecastMeta }> {
  const file = joinPath(dir, 'config.json');
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(await readText(file)) as Record<string, unknown>;
  } catch (e) {
    throw new FormatError(file, `cannot read the model's config: ${(e as Error).message}`);
  }
  const columns = raw['columns'];
  const scaler = raw['scaler'] as Standardizer | undefined;
  const model = createForecaster(raw, file, device);
  try {
    const M = model.config.n_vars;
    if (!Array.isArray(columns) || columns.length !== M || columns.some((c) => typeof c !== 'string')) {
      throw new FormatError(file, `field "columns": expected the ${M} variate names the model was trained on`);
    }
    if (!scaler || !Array.isArray(scaler.mean) || !Array.isArray(scaler.std) || scaler.mean.length !== M || scaler.std.length !== M) {
      throw new FormatError(file, `field "scaler": expected { "mean": [${M} numbers], "std": [${M} numbers] } (the train split's statistics)`);
    }
    await loadParametersFromFolder(model, dir, { device, progressCallback: o.progressCallback });
    return { model, meta: { ...raw, columns: columns as string[], scaler } };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
