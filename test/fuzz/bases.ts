/**
 * The valid model folders the fuzz cases start from (the worker copies one to the case's `model/`
 * and then applies the case's changes), with the tensors each must load as.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AutoModelForCausalLM, SafetensorsFile } from '../../src/index.js';
import { createForecaster, saveForecaster } from '../../src/timeseries/models.js';
import { fixture } from '../helpers.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export const MAMBA_DIR = fixture('hf', 'mamba-tiny', 'model');
export const JAMBA_DIR = fixture('hf', 'jamba-tiny', 'model');
export const TSM2_DIR = join(REPO, 'models', 'tsm2-etth1-96');

/** A folder's config.json, parsed. */
export async function readConfigOf(dir: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
}

/** The float32 values of every tensor of a folder's model.safetensors (all F32 in these bases). */
export async function tensorsOf(dir: string, file = 'model.safetensors'): Promise<Map<string, Float32Array>> {
  const bytes = new Uint8Array(await readFile(join(dir, file)));
  const f = SafetensorsFile.parse(bytes, file);
  return new Map(f.names().map((n) => [n, f.toFloat32(n)]));
}

/** mamba-tiny saved as shards with an index (written by the library, as transformers lays it out). */
export async function makeShardedMamba(parent: string): Promise<string> {
  const dir = join(parent, 'mamba-sharded');
  const model = await AutoModelForCausalLM.fromPretrained(MAMBA_DIR);
  await model.save(dir, { maxShardBytes: 120_000 });
  model.dispose();
  return dir;
}

/** A tiny DLinear forecaster (lookback 8, horizon 4, variates x and y) with a known scaler. */
export async function makeTinyForecaster(parent: string): Promise<string> {
  const dir = join(parent, 'dlinear-tiny');
  const model = createForecaster({ model_type: 'dlinear', lookback: 8, horizon: 4, n_vars: 2 }, 'dlinear-tiny', 'cpu');
  model.initWeights(7);
  await saveForecaster(dir, model, { columns: ['x', 'y'], scaler: { mean: [0.5, -1], std: [2, 0.25] } });
  model.dispose();
  return dir;
}

export async function basesDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'mamba-ts-fuzz-bases-'));
}
