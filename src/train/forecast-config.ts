/**
 * The `mamba-ts train` config for forecasting (`"task": "forecast"`): every field checked, unknown
 * fields rejected. Defaults follow Time-Series-Library (10 epochs, batch 32, patience 3, lr halved
 * each epoch — "type1") unless a field says otherwise.
 */
import { FormatError } from '../errors.js';
import { jsonKind } from '../io/json.js';
import { relativeToFile } from '../io/relative-path.js';
import { unknownFieldsMessage } from '../options.js';
import { ConfigReader } from '../models/config-fields.js';
import { ETT_HOUR_SPLIT, type SplitRows } from '../timeseries/dataset.js';
import { FORECAST_MODEL_TYPES } from '../timeseries/models.js';

export interface ForecastTrainConfig {
  task: 'forecast';
  /** The model's config fields with `model_type` ("tsm2" | "dlinear"); lookback, horizon and n_vars are filled in. */
  model: Record<string, unknown>;
  /** A CSV (date column, then variates); `columns` picks variates (default all); `split` the rows per split (default ETT-hourly 8640/2880/2880). */
  data: { path: string; columns?: string[]; split: SplitRows };
  lookback: number;
  horizon: number;
  epochs: number;
  batchSize: number;
  lr: number;
  weightDecay: number;
  /** "type1": lr · 0.5^epoch (TSLib's default); "cosine": lr/2 · (1 + cos(π·epoch/epochs)); "constant". */
  lrSchedule: 'type1' | 'cosine' | 'constant';
  /** Epochs without a better validation MSE before stopping (TSLib: 3). */
  patience: number;
  /** Max gradient norm; 0 = no clipping (TSLib does not clip). */
  gradClip: number;
  /** Caps the steps of one epoch (0 = every training window once), to fit a time budget. */
  maxStepsPerEpoch: number;
  /** Caps the validation windows per evaluation (0 = all; spread evenly), to fit a time budget. Test always uses all. */
  maxValWindows: number;
  evalBatchSize: number;
  outDir: string;
  seed: number;
  device: 'cpu' | 'webgpu' | 'auto';
}

const KNOWN = ['task', 'model', 'data', 'lookback', 'horizon', 'epochs', 'batchSize', 'lr', 'weightDecay', 'lrSchedule', 'patience', 'gradClip', 'maxStepsPerEpoch', 'maxValWindows', 'evalBatchSize', 'outDir', 'seed', 'device'];

export function parseForecastConfig(raw: unknown, source: string): ForecastTrainConfig {
  const fail = (m: string): never => {
    throw new FormatError(source, m);
  };
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail('expected a JSON object');
  const r = raw as Record<string, unknown>;
  const unknown = Object.keys(r).filter((k) => !KNOWN.includes(k));
  if (unknown.length) fail(unknownFieldsMessage(unknown, KNOWN));
  if (r['task'] !== 'forecast') fail(`field "task": expected "forecast", got ${JSON.stringify(r['task'])}`);
  const model = r['model'];
  if (!model || typeof model !== 'object' || Array.isArray(model)) fail('field "model": expected an object with "model_type" and the model\'s fields');
  const type = (model as Record<string, unknown>)['model_type'];
  if (!FORECAST_MODEL_TYPES.includes(type as (typeof FORECAST_MODEL_TYPES)[number])) {
    fail(`field "model.model_type": expected one of ${FORECAST_MODEL_TYPES.map((t) => `"${t}"`).join(', ')}, got ${JSON.stringify(type)}`);
  }
  for (const k of ['lookback', 'horizon', 'n_vars']) if (k in (model as object)) fail(`field "model.${k}": set "${k === 'n_vars' ? 'data.columns' : k}" at the top level instead`);
  const data = r['data'] as Record<string, unknown> | undefined;
  if (!data || typeof data !== 'object' || typeof data['path'] !== 'string') fail('field "data": expected { "path": "ETTh1.csv", "columns"?: [...], "split"?: { "train", "val", "test" } }');
  const unknownData = Object.keys(data!).filter((k) => !['path', 'columns', 'split'].includes(k));
  if (unknownData.length) fail(unknownFieldsMessage(unknownData, ['path', 'columns', 'split'], 'data.'));
  const columns = data!['columns'];
  if (columns !== undefined && (!Array.isArray(columns) || columns.length === 0 || columns.some((c) => typeof c !== 'string'))) fail('field "data.columns": expected a non-empty list of column names');
  const twice = (columns as string[] | undefined)?.find((c, i, all) => all.indexOf(c) !== i);
  if (twice !== undefined) fail(`field "data.columns": ${JSON.stringify(twice.slice(0, 40))} is named twice`);
  let split = ETT_HOUR_SPLIT;
  if (data!['split'] !== undefined) {
    const given = data!['split'];
    if (typeof given !== 'object' || given === null || Array.isArray(given)) fail(`field "data.split": expected { "train": rows, "val": rows, "test": rows }, got ${jsonKind(given)}`);
    const s = new ConfigReader(data!['split'] as Record<string, unknown>, `${source} (data.split)`);
    split = { train: s.int('train'), val: s.int('val'), test: s.int('test') };
  }
  if (typeof r['outDir'] !== 'string' || !r['outDir']) fail('field "outDir": expected the folder for the model and results');
  const cr = new ConfigReader(r, source);
  const device = r['device'] ?? 'cpu';
  if (device !== 'cpu' && device !== 'webgpu' && device !== 'auto') fail(`field "device": expected "cpu", "webgpu" or "auto", got ${JSON.stringify(device)}`);
  return {
    task: 'forecast',
    model: model as Record<string, unknown>,
    data: { path: relativeToFile(source, data!['path'] as string), ...(columns ? { columns: columns as string[] } : {}), split },
    lookback: cr.int('lookback'),
    horizon: cr.int('horizon'),
    epochs: cr.int('epochs', 10),
    batchSize: cr.int('batchSize', 32),
    lr: cr.number('lr', 1e-4, (x) => x > 0, 'a positive number'),
    weightDecay: cr.number('weightDecay', 0, (x) => x >= 0, 'a number >= 0'),
    lrSchedule: cr.string('lrSchedule', 'type1', ['type1', 'cosine', 'constant']) as ForecastTrainConfig['lrSchedule'],
    patience: cr.int('patience', 3),
    gradClip: cr.number('gradClip', 0, (x) => x >= 0, 'a number >= 0'),
    maxStepsPerEpoch: cr.int('maxStepsPerEpoch', 0, 0),
    maxValWindows: cr.int('maxValWindows', 0, 0),
    evalBatchSize: cr.int('evalBatchSize', 256),
    outDir: r['outDir'] as string,
    seed: cr.int('seed', 0, 0),
    device: device as ForecastTrainConfig['device'],
  };
}

/** The learning rate of epoch `e` (0-based), TSLib's `adjust_learning_rate` applied per epoch. */
export function epochLr(c: Pick<ForecastTrainConfig, 'lr' | 'lrSchedule' | 'epochs'>, e: number): number {
  if (c.lrSchedule === 'type1') return c.lr * 0.5 ** e;
  if (c.lrSchedule === 'cosine') return (c.lr / 2) * (1 + Math.cos((Math.PI * e) / c.epochs));
  return c.lr;
}
