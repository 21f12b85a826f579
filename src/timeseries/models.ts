/**
 * Forecasting model folders: config.json (the model's fields + `model_type`, and what is needed to
 * use it on raw data: `columns` and the train split's `scaler`) and model.safetensors. Written
 * beside the target and swapped in whole, so a crash never leaves a half-written model.
 */
import type { DeviceName } from '../backend/registry.js';
import { FormatError } from '../errors.js';
import { readConfig } from '../io/hf-folder.js';
import { joinPath, replaceDir } from '../io/platform.js';
import { DLinear, dlinearParameterCount, parseDLinearConfig } from '../models/dlinear/model.js';
import { parseTSM2Config, TSM2_FIELDS, tsm2ParameterCount } from '../models/mambamixer/tsm2/config.js';
import { TSM2 } from '../models/mambamixer/tsm2/model.js';
import { loadWeightsInto, readWeightsFor, saveModule } from '../models/pretrained.js';
import type { Standardizer } from './dataset.js';
import type { Forecaster, ForecasterConfig } from './forecaster.js';
import type { ProgressCallback } from '../io/progress.js';

/** A forecasting family: its config parsed and sized from config.json alone, and the model built from it. */
interface ForecasterFamily {
  parse(raw: Record<string, unknown>, source: string): ForecasterConfig;
  /** Parameters, from the config's arithmetic. */
  parameters(config: ForecasterConfig): number;
  /** The config fields that set the count. */
  sizeFields: readonly string[];
  build(config: ForecasterConfig, device: DeviceName): Forecaster;
}

/** model_type → family: a Map, so that a model_type such as "constructor" is unknown, not Object's. */
const FAMILIES: ReadonlyMap<string, ForecasterFamily> = new Map<string, ForecasterFamily>([
  ['tsm2', {
    parse: parseTSM2Config,
    parameters: (c) => tsm2ParameterCount(c as ReturnType<typeof parseTSM2Config>),
    sizeFields: TSM2_FIELDS.filter((k) => k !== 'revin' && k !== 'norm_eps'),
    build: (c, device) => new TSM2(c as ReturnType<typeof parseTSM2Config>, device),
  }],
  ['dlinear', {
    parse: parseDLinearConfig,
    parameters: (c) => dlinearParameterCount(c as ReturnType<typeof parseDLinearConfig>),
    sizeFields: ['lookback', 'horizon', 'n_vars', 'moving_avg'],
    build: (c, device) => new DLinear(c as ReturnType<typeof parseDLinearConfig>, device),
  }],
]);

export const FORECAST_MODEL_TYPES = ['tsm2', 'dlinear'] as const;

/** The family config.json's model_type names, or an error listing the known ones. */
function familyOf(raw: Record<string, unknown>, source: string): ForecasterFamily {
  const type = raw['model_type'];
  const family = typeof type === 'string' ? FAMILIES.get(type) : undefined;
  if (family === undefined) {
    throw new FormatError(source, `field "model_type": expected one of ${FORECAST_MODEL_TYPES.map((t) => `"${t}"`).join(', ')}, got ${JSON.stringify(type)}`);
  }
  return family;
}

/** A forecasting config checked and sized from config.json alone: nothing is built. */
export function forecasterSize(raw: Record<string, unknown>, source: string): { config: ForecasterConfig; parameters: number; fields: [string, unknown][] } {
  const family = familyOf(raw, source);
  const config = family.parse(raw, source);
  const fields = family.sizeFields.map((k): [string, unknown] => [k, (config as unknown as Record<string, unknown>)[k]]);
  return { config, parameters: family.parameters(config), fields };
}

/** What a model folder carries beside the weights. */
export interface ForecastMeta {
  columns: string[];
  scaler: Standardizer;
  /** Free-form: the training run's metrics, data file, split. */
  [key: string]: unknown;
}

/** A model from its config fields (`model_type` picks the family). */
export function createForecaster(raw: Record<string, unknown>, source: string, device: DeviceName): Forecaster {
  const family = familyOf(raw, source);
  return family.build(family.parse(raw, source), device);
}

export async function saveForecaster(dir: string, model: Forecaster, meta: ForecastMeta): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  await saveModule(model, tmp, { ...model.toJSON(), ...meta });
  await replaceDir(tmp, dir);
}

export async function loadForecaster(dir: string, device: DeviceName, o: { progressCallback?: ProgressCallback } = {}): Promise<{ model: Forecaster; meta: ForecastMeta }> {
  const file = joinPath(dir, 'config.json');
  // readConfig's errors name the file without quoting it (JSON.parse's message would).
  const raw = await readConfig(dir);
  const columns = raw['columns'];
  const scaler = raw['scaler'] as Standardizer | undefined;
  // Sized from the config and checked against the weights' headers before anything is built.
  const size = forecasterSize(raw, file);
  const weights = await readWeightsFor(dir, { source: file, ...size });
  const model = familyOf(raw, file).build(size.config, device);
  try {
    const M = model.config.n_vars;
    if (!Array.isArray(columns) || columns.length !== M || columns.some((c) => typeof c !== 'string')) {
      throw new FormatError(file, `field "columns": expected the ${M} variate names the model was trained on`);
    }
    if (!scaler || !Array.isArray(scaler.mean) || !Array.isArray(scaler.std) || scaler.mean.length !== M || scaler.std.length !== M) {
      throw new FormatError(file, `field "scaler": expected { "mean": [${M} numbers], "std": [${M} numbers] } (the train split's statistics)`);
    }
    await loadWeightsInto(model, weights, { device, progressCallback: o.progressCallback });
    return { model, meta: { ...raw, columns: columns as string[], scaler } };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
