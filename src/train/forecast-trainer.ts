/**
 * The forecasting training loop behind `mamba-ts train` with `"task": "forecast"`: TSM2 or DLinear
 * on a CSV under the TSLib protocol (timeseries/dataset.ts). MSE loss, AdamW (Adam when
 * weightDecay is 0), a per-epoch lr schedule, validation MSE after every epoch with early stopping,
 * the best model saved atomically, and the test MSE / MAE of that best model (every test window,
 * no drop_last).
 */
import type { DeviceName } from '../backend/registry.js';
import { noGrad } from '../autograd/tape.js';
import '../autograd/backward.js';
import { checkWriteTarget, joinPath, readText, removeStaleTemps, writeBytesAtomic } from '../io/platform.js';
import { resolveDevice } from '../models/auto.js';
import { loadParametersFromFolder } from '../models/pretrained.js';
import { mul, reshape, scale, sub, sum, tensor } from '../ops/index.js';
import { RandomSource } from '../ops/random.js';
import { tidy } from '../tensor/memory.js';
import { parseSeriesCsv } from '../timeseries/csv.js';
import { forecastSplits, type WindowSet } from '../timeseries/dataset.js';
import type { Forecaster } from '../timeseries/forecaster.js';
import { createForecaster, saveForecaster } from '../timeseries/models.js';
import { AdamW } from './adamw.js';
import { trainStep } from './train-step.js';
import { epochLr, type ForecastTrainConfig } from './forecast-config.js';
import { NonFiniteLossError } from './trainer.js';
import { refuseExistingOutput } from './existing-output.js';
import { checkOptionKeys, optionKeys } from '../options.js';
import { EventLoopYielder } from '../event-loop.js';

export interface ForecastMetrics {
  mse: number;
  mae: number;
  windows: number;
}

export interface ForecastEpoch {
  epoch: number;
  lr: number;
  trainMse: number;
  valMse: number;
  seconds: number;
}

export interface ForecastResult {
  model: string;
  data: string;
  lookback: number;
  horizon: number;
  device: DeviceName;
  parameters: number;
  epochs: ForecastEpoch[];
  bestEpoch: number;
  val: ForecastMetrics;
  test: ForecastMetrics;
  wallSeconds: number;
  modelDir: string;
}

export interface EvaluateOptions {
  /** The windows to evaluate (default: all of the split). */
  ids?: number[];
  /** After each batch: windows done so far and in all. */
  onProgress?: (windows: number, total: number) => void;
}

export const EVALUATE_OPTION_KEYS = optionKeys<EvaluateOptions>({ ids: true, onProgress: true });

/** MSE and MAE of `model` over the windows of a split (or o.ids of them), in batches, without recording. */
export async function evaluateForecaster(model: Forecaster, set: WindowSet, batchSize: number, o: EvaluateOptions = {}): Promise<ForecastMetrics> {
  checkOptionKeys('evaluateForecaster', o, EVALUATE_OPTION_KEYS);
  const all = o.ids ?? Array.from({ length: set.count }, (_, i) => i);
  const device = (model as unknown as { device: DeviceName }).device;
  let se = 0;
  let ae = 0;
  const yielder = new EventLoopYielder();
  for (let at = 0; at < all.length; at += batchSize) {
    await yielder.maybeYield(); // CPU batches await only microtasks: let timers and I/O run (event-loop.ts)
    const chunk = all.slice(at, at + batchSize);
    const { x, y } = set.batch(chunk);
    const pred = noGrad(() => tidy(() => model.forward(tensor(x, [chunk.length, set.L, set.M], { device }))));
    const p = (await pred.data()) as Float32Array;
    pred.dispose();
    for (let i = 0; i < p.length; i++) {
      const d = p[i]! - y[i]!;
      se += d * d;
      ae += Math.abs(d);
    }
    o.onProgress?.(at + chunk.length, all.length);
  }
  const n = all.length * set.H * set.M;
  return { mse: se / n, mae: ae / n, windows: all.length };
}

function shuffled(n: number, rng: RandomSource): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

export interface ForecastTrainingOptions {
  /** Replace a model already in outDir/model (without it, such a folder is refused). */
  overwrite?: boolean;
  /** After each epoch: its lr, train and validation MSE. */
  onEpoch?: (e: ForecastEpoch) => void;
  /** After each training step of an epoch. */
  onStep?: (step: number, steps: number, loss: number) => void;
}

export const FORECAST_TRAINING_OPTION_KEYS = optionKeys<ForecastTrainingOptions>({ overwrite: true, onEpoch: true, onStep: true });

/** Trains the forecasting model `c` describes (parse a config with parseForecastConfig); the best model and results.json go to c.outDir. */
export async function runForecastTraining(c: ForecastTrainConfig, o: ForecastTrainingOptions = {}): Promise<ForecastResult> {
  checkOptionKeys('runForecastTraining', o, FORECAST_TRAINING_OPTION_KEYS);
  await checkWriteTarget(c.outDir, 'folder');
  await refuseExistingOutput(joinPath(c.outDir, 'model'), 'config.json', o, false);
  await removeStaleTemps(c.outDir);
  const t0 = performance.now();
  const device = await resolveDevice(c.device);
  const table = parseSeriesCsv(await readText(c.data.path), c.data.path, c.data.columns ? { columns: c.data.columns } : {});
  const data = forecastSplits(table, c.data.path, c.lookback, c.horizon, c.data.split);
  const M = data.columns.length;
  const model = createForecaster({ ...c.model, lookback: c.lookback, horizon: c.horizon, n_vars: M }, 'model', device);
  model.initWeights(c.seed);
  model.requiresGrad_(true);
  const opt = new AdamW(model.namedParameters(), { lr: c.lr, weightDecay: c.weightDecay });
  const params = model.namedParameters().map(([, p]) => p);
  const rng = new RandomSource(c.seed + 1);
  const modelDir = joinPath(c.outDir, 'model');
  const meta = { columns: data.columns, scaler: data.scaler, data: c.data.path, split: c.data.split };
  const valIds = c.maxValWindows > 0 && c.maxValWindows < data.val.count
    ? Array.from({ length: c.maxValWindows }, (_, i) => Math.floor((i * data.val.count) / c.maxValWindows))
    : undefined;
  const epochs: ForecastEpoch[] = [];
  let best = Infinity;
  let bestEpoch = 0;
  let bad = 0;
  const yielder = new EventLoopYielder();
  try {
    for (let e = 0; e < c.epochs; e++) {
      const te = performance.now();
      opt.lr = epochLr(c, e);
      model.train();
      const order = shuffled(data.train.count, rng);
      const steps = Math.ceil(order.length / c.batchSize);
      const limit = c.maxStepsPerEpoch > 0 ? Math.min(steps, c.maxStepsPerEpoch) : steps;
      let lossSum = 0;
      for (let s = 0; s < limit; s++) {
        await yielder.maybeYield(); // CPU steps await only microtasks: let timers and I/O run (event-loop.ts)
        const ids = order.slice(s * c.batchSize, (s + 1) * c.batchSize);
        const { x, y } = data.train.batch(ids);
        const { loss: v, gradNorm: norm } = await trainStep(opt, params, () =>
          tidy(() => {
            const pred = model.forward(tensor(x, [ids.length, c.lookback, M], { device }));
            const d = reshape(sub(pred, tensor(y, [ids.length, c.horizon, M], { device })), [1, ids.length * c.horizon * M]);
            return scale(sum(mul(d, d)), 1 / (ids.length * c.horizon * M));
          }), { gradClip: c.gradClip });
        if (!Number.isFinite(v) || !Number.isFinite(norm)) {
          throw new NonFiniteLossError(`train: the loss became ${v} (gradient norm ${norm}) at epoch ${e + 1}, step ${s + 1}; lower "lr" or set "gradClip"`);
        }
        lossSum += v;
        o.onStep?.(s + 1, limit, v);
      }
      model.eval();
      const val = await evaluateForecaster(model, data.val, c.evalBatchSize, { ids: valIds });
      const ep: ForecastEpoch = { epoch: e + 1, lr: opt.lr, trainMse: lossSum / limit, valMse: val.mse, seconds: (performance.now() - te) / 1000 };
      epochs.push(ep);
      o.onEpoch?.(ep);
      // TSLib's EarlyStopping: save on any improvement, stop after `patience` epochs without one.
      if (val.mse < best) {
        best = val.mse;
        bestEpoch = e + 1;
        bad = 0;
        await saveForecaster(modelDir, model, { ...meta, best_epoch: bestEpoch, val_mse: best });
      } else if (++bad >= c.patience) {
        break;
      }
    }
    // The best epoch's weights, as saved, for the final numbers.
    model.requiresGrad_(false);
    await loadParametersFromFolder(model, modelDir, { device });
    const val = await evaluateForecaster(model, data.val, c.evalBatchSize);
    const test = await evaluateForecaster(model, data.test, c.evalBatchSize);
    await saveForecaster(modelDir, model, { ...meta, best_epoch: bestEpoch, val_mse: val.mse, test_mse: test.mse, test_mae: test.mae, test_windows: test.windows });
    const result: ForecastResult = {
      model: String(c.model['model_type']),
      data: c.data.path,
      lookback: c.lookback,
      horizon: c.horizon,
      device,
      parameters: model.parameterCount(),
      epochs,
      bestEpoch,
      val,
      test,
      wallSeconds: (performance.now() - t0) / 1000,
      modelDir,
    };
    await writeBytesAtomic(joinPath(c.outDir, 'results.json'), `${JSON.stringify(result, null, 2)}\n`);
    return result;
  } finally {
    opt.dispose();
    model.dispose();
  }
}
