/**
 * The `mamba-ts train` config for image classification (`"task": "image-classification"`): every
 * field checked, unknown fields rejected, each error naming the file and the field.
 *
 *   { "task": "image-classification",
 *     "model": { "preset": "mnist", ...ViM2 config.json fields overriding it },
 *     "data": { "format": "mnist", "path": "../shared/data/mnist", "trainSize": 8000, "testSize": 2000 },
 *     "epochs", "batchSize", "lr", "minLr", "warmupSteps", "weightDecay", "gradClip",
 *     "augment": "none" | "shift", "maxShift", "evalEvery" (epochs), "evalBatchSize",
 *     "maxSteps" (stop early, for smoke tests and speed measurements), "outDir", "seed", "device" }
 */
import { FormatError } from '../errors.js';
import { unknownFieldsMessage } from '../options.js';
import { ConfigReader } from '../models/config-fields.js';
import { relativeToFile } from '../io/relative-path.js';
import { readOptimizerFields, type OptimizerFields } from './optimizer-fields.js';

export interface ImageTrainConfig extends OptimizerFields {
  task: 'image-classification';
  /** A ViM2 preset name (optional) and config.json fields that override it. */
  model: { preset?: string; fields: Record<string, unknown> };
  /** The MNIST IDX files in `path`; the split of strideSplit (every 5th image to test). */
  data: { format: 'mnist'; path: string; trainSize: number; testSize: number };
  epochs: number;
  /** When set, training stops after this many steps (the schedule still spans all epochs). */
  maxSteps: number | null;
  batchSize: number;
  /** 'shift': each training image is translated by a random whole number of pixels in [-maxShift, maxShift] per axis, zero-filled. */
  augment: 'none' | 'shift';
  maxShift: number;
  /** Test accuracy after every evalEvery epochs (and at the end). */
  evalEvery: number;
  evalBatchSize: number;
  outDir: string;
  seed: number;
  device: 'cpu' | 'webgpu' | 'auto';
}

const DEFAULTS = {
  epochs: 10,
  batchSize: 64,
  lr: 2e-3,
  minLr: 1e-5,
  warmupSteps: 100,
  weightDecay: 0.05,
  gradClip: 1.0,
  maxShift: 2,
  evalEvery: 1,
  evalBatchSize: 500,
  seed: 0,
};

const FIELDS = ['task', 'model', 'data', 'epochs', 'maxSteps', 'batchSize', 'lr', 'minLr', 'warmupSteps', 'weightDecay', 'gradClip', 'augment', 'maxShift', 'evalEvery', 'evalBatchSize', 'outDir', 'seed', 'device'];

export function parseImageTrainConfig(raw: unknown, source: string): ImageTrainConfig {
  const fail = (m: string): never => {
    throw new FormatError(source, m);
  };
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail('expected a JSON object');
  const r = raw as Record<string, unknown>;
  if (r['task'] !== 'image-classification') fail(`field "task": expected "image-classification", got ${JSON.stringify(r['task'])}`);
  const unknown = Object.keys(r).filter((k) => !FIELDS.includes(k));
  if (unknown.length) fail(unknownFieldsMessage(unknown, FIELDS));

  const model = r['model'];
  if (!model || typeof model !== 'object' || Array.isArray(model)) fail('field "model": expected an object: { "preset"?: "mnist" | "tiny" | "small" | "base", ...ViM2 config fields }');
  const { preset, ...fields } = model as Record<string, unknown>;
  if (preset !== undefined && typeof preset !== 'string') fail(`field "model.preset": expected a preset name, got ${JSON.stringify(preset)}`);

  const data = r['data'] as Record<string, unknown> | undefined;
  if (!data || typeof data !== 'object' || Array.isArray(data)) fail('field "data": expected { "format": "mnist", "path": "folder of the IDX files", "trainSize"?: 8000, "testSize"?: 2000 }');
  const dr = new ConfigReader(data!, `${source}: data`);
  const format = dr.string('format', 'mnist', ['mnist']) as 'mnist';
  const path = relativeToFile(source, dr.string('path'));
  const trainSize = dr.int('trainSize', 8000);
  const testSize = dr.int('testSize', 2000);
  if (dr.unknownFields().length) fail(unknownFieldsMessage(dr.unknownFields(), ['format', 'path', 'trainSize', 'testSize'], 'data.'));

  const cr = new ConfigReader(r, source);
  cr.known('task', 'model', 'data');
  const epochs = cr.int('epochs', DEFAULTS.epochs);
  const batchSize = cr.int('batchSize', DEFAULTS.batchSize);
  const totalSteps = epochs * Math.ceil(trainSize / batchSize);
  const maxSteps = cr.has('maxSteps') ? cr.int('maxSteps') : null;
  const augment = cr.string('augment', 'none', ['none', 'shift']) as 'none' | 'shift';
  const device = cr.string('device', 'cpu', ['cpu', 'webgpu', 'auto']) as ImageTrainConfig['device'];
  const outDir = cr.string('outDir');
  if (!outDir) fail('field "outDir": expected the folder for checkpoints');
  return {
    task: 'image-classification',
    model: { ...(preset !== undefined ? { preset: preset as string } : {}), fields },
    data: { format, path, trainSize, testSize },
    epochs,
    maxSteps,
    batchSize,
    ...readOptimizerFields(cr, DEFAULTS, totalSteps),
    augment,
    maxShift: cr.int('maxShift', DEFAULTS.maxShift, 0),
    evalEvery: cr.int('evalEvery', DEFAULTS.evalEvery),
    evalBatchSize: cr.int('evalBatchSize', DEFAULTS.evalBatchSize),
    outDir,
    seed: cr.int('seed', DEFAULTS.seed, 0),
    device,
  };
}
