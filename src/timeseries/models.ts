/**
 * Forecasting model folders: config.json (the model's fields + `model_type`, and what is needed to
 * use it on raw data: `columns` and the train split's `scaler`) and model.safetensors. Written
 * beside the target and swapped in whole, so a crash never leaves a half-written model.
 */
import type { DeviceName } from '../backend/registry.js';
import { FormatError } from '../errors.js';
import { readConfig } from '../io/hf-folder.js';
import { joinPath, makeTempDir, removeDir, replaceDir } from '../io/platform.js';
import { DLinear, dlinearParameterCount, parseDLinearConfig } from '../models/dlinear/model.js';
import { parseTSM2Config, TSM2_SIZE_FIELDS, tsm2ParameterCount } from '../models/mambamixer/tsm2/config.js';
import { preview } from '../models/config-fields.js';
import { TSM2 } from '../models/mambamixer/tsm2/model.js';
import { loadWeightsInto, readWeightsFor, saveModule } from '../models/pretrained.js';
import type { SplitRows, Standardizer } from './dataset.js';
import { parseColumns, parseSplit, parseStandardizer } from './meta.js';
import type { Forecaster, ForecasterConfig } from './forecaster.js';
import type { ProgressCallback } from '../io/progress.js';

/** A forecasting family: its config parsed and sized from config.json alone, and the model built from it. */
interface Family<C extends ForecasterConfig> {
  parse(raw: Record<string, unknown>, source: string): C;
  /** Parameters, from the config's arithmetic. */
  parameters(config: C): number;
  /** The config fields that set the count, named in errors about sizes. */
  sizeFields: readonly (keyof C & string)[];
  build(config: C, device: DeviceName): Forecaster;
}

/** A family behind its config type: the only place the config types are erased. */
function family<C extends ForecasterConfig>(f: Family<C>): Family<ForecasterConfig> {
  return f as unknown as Family<ForecasterConfig>;
}

/** model_type → family: a Map, so that a model_type such as "constructor" is unknown, not Object's. */
const FAMILIES: ReadonlyMap<string, Family<ForecasterConfig>> = new Map([
  ['tsm2', family({ parse: parseTSM2Config, parameters: tsm2ParameterCount, sizeFields: TSM2_SIZE_FIELDS, build: (c, device) => new TSM2(c, device) })],
  ['dlinear', family({ parse: parseDLinearConfig, parameters: dlinearParameterCount, sizeFields: ['lookback', 'horizon', 'n_vars', 'moving_avg'], build: (c, device) => new DLinear(c, device) })],
]);

export const FORECAST_MODEL_TYPES = ['tsm2', 'dlinear'] as const;

/** The family config.json's model_type names, or an error listing the known ones. */
function familyOf(raw: Record<string, unknown>, source: string): Family<ForecasterConfig> {
  const type = raw['model_type'];
  const found = typeof type === 'string' ? FAMILIES.get(type) : undefined;
  if (found === undefined) {
    throw new FormatError(source, `field "model_type": expected one of ${FORECAST_MODEL_TYPES.map((t) => `"${t}"`).join(', ')}, got ${preview(type)}`);
  }
  return found;
}

/** A forecasting config checked and sized from config.json alone: nothing is built. */
export function forecasterSize(raw: Record<string, unknown>, source: string): { config: ForecasterConfig; parameters: number; fields: [string, unknown][] } {
  const f = familyOf(raw, source);
  const config = f.parse(raw, source);
  return { config, parameters: f.parameters(config), fields: f.sizeFields.map((k): [string, unknown] => [k, config[k]]) };
}

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
  const f = familyOf(raw, source);
  return f.build(f.parse(raw, source), device);
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
  const raw = await readConfig(dir);
  // Sized from the config and checked against the weights' headers before anything is built.
  const size = forecasterSize(raw, file);
  const weights = await readWeightsFor(dir, { source: file, ...size });
  const model = familyOf(raw, file).build(size.config, device);
  try {
    const M = model.config.n_vars;
    const columns = parseColumns(raw['columns'], M, file);
    const scaler = parseStandardizer(raw['scaler'], M, file);
    const split = parseSplit(raw['split'], file);
    await loadWeightsInto(model, weights, { device, progressCallback: o.progressCallback });
    return { model, meta: { ...raw, columns, scaler, ...(split ? { split } : {}) } };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
