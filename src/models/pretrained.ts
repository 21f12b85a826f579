/**
 * Moving a module's parameters to and from HF checkpoint folders. Names are HF's; the only renames
 * are the ones a family declares (e.g. mamba_ssm's `backbone.embedding.` → `backbone.embeddings.`).
 */
import { ArgumentError, FormatError } from '../errors.js';
import { readConfig, readWeights, writeModelFolder, type WeightSource } from '../io/hf-folder.js';
import type { TensorToWrite } from '../io/safetensors.js';
import { f32ToBf16, f32ToF16 } from '../io/safetensors.js';
import type { Module } from '../nn/module.js';
import { halfTensor, tensor } from '../ops/create.js';
import { getBackend, initCpu, initWebGPU, type DeviceName } from '../backend/registry.js';
import { HUB_OPTION_KEY_RECORD, resolvePretrained, type HubOptions } from '../io/hub.js';
import { formatShape, shapeEquals } from '../tensor/shape.js';
import type { ProgressCallback } from '../io/progress.js';
import { checkOptionKeys, optionKeys } from '../options.js';
import { describeFields, formatBytes, formatCount } from './size-limits.js';

/** What every model class's fromPretrained takes: the device, and (for a Hub id) where to fetch from. */
export interface ModelLoadOptions extends HubOptions {
  device?: DeviceName;
  /**
   * Called as files download ({ status: 'download' | 'progress' | 'done', repo, file, ... }) and after
   * each tensor is loaded ({ status: 'loading', file, loaded, total, progress }; bytes, progress 0–100).
   */
  progressCallback?: ProgressCallback;
}

/** Its keys (the compiler keeps list and interface in step). */
export const MODEL_LOAD_OPTION_KEYS = optionKeys<ModelLoadOptions>({ ...HUB_OPTION_KEY_RECORD, device: true, progressCallback: true });

/** The older name of ModelLoadOptions. */
export type PretrainedOptions = ModelLoadOptions;

export interface LoadOptions {
  device?: DeviceName;
  /** Checkpoint name prefix → our prefix, for checkpoints written by other code. */
  renames?: [string, string][];
  /** Checkpoint tensors to skip without complaint (e.g. a tied lm_head). */
  ignore?: string[];
  /**
   * Keep bf16/f16 matmul and embedding weights packed where the backend unpacks halves inside its
   * kernels (WebGPU, and the CPU's WebAssembly kernels): half the memory and bandwidth. Default
   * true; false converts to float32.
   */
  halfWeights?: boolean;
  progressCallback?: ProgressCallback;
}

/** Loads every parameter of `module` from `weights`; missing, extra or misshapen tensors are errors. */
export function loadParameters(module: Module, weights: WeightSource, o: LoadOptions = {}): void {
  const byName = new Map<string, string>(); // our name → checkpoint name
  for (const ckpt of weights.names()) {
    let name = ckpt;
    for (const [from, to] of o.renames ?? []) if (name.startsWith(from)) name = to + name.slice(from.length);
    byName.set(name, ckpt);
  }
  const params = module.namedParameters();
  const wanted = new Set(params.map(([n]) => n));
  const extra = [...byName.keys()].filter((n) => !wanted.has(n) && !(o.ignore ?? []).includes(n));
  if (extra.length) {
    const file = weights.entry(byName.get(extra[0]!)!).file;
    throw new FormatError(file, `unexpected tensor(s) for this model: ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', …' : ''}`);
  }
  const missing = params.filter(([n]) => !byName.has(n)).map(([n]) => n);
  if (missing.length) {
    throw new FormatError(
      weights.names().length ? weights.entry(weights.names()[0]!).file : 'weights',
      `missing tensor(s): ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? `, … (${missing.length} in all)` : ''}`,
    );
  }
  const total = params.reduce((n, [name]) => n + weights.entry(byName.get(name)!).byteLength, 0);
  let loaded = 0;
  for (const [name, p] of params) {
    const ckpt = byName.get(name)!;
    const e = weights.entry(ckpt);
    if (!shapeEquals(e.shape, p.shape)) {
      throw new FormatError(e.file, `${ckpt}: expected shape ${formatShape(p.shape)}, got ${formatShape(e.shape)}`);
    }
    if (!['F32', 'F16', 'BF16', 'F64'].includes(e.dtype)) {
      throw new FormatError(e.file, `${ckpt}: expected a floating-point dtype (F32, F16, BF16, F64), got ${e.dtype}`);
    }
    const half = e.dtype === 'BF16' ? 'bf16' : e.dtype === 'F16' ? 'f16' : null;
    if (half && p.packable && (o.halfWeights ?? true) && getBackend(o.device).uploadHalf) {
      const raw = weights.raw(ckpt);
      p.set(halfTensor(new Uint16Array(raw.slice().buffer), p.shape, half, { device: o.device }), ckpt);
    } else {
      p.set(tensor(weights.toFloat32(ckpt), p.shape, { device: o.device }), ckpt);
    }
    loaded += e.byteLength;
    o.progressCallback?.({ status: 'loading', file: e.file, loaded, total, progress: total > 0 ? (100 * loaded) / total : 100 });
  }
}

export async function loadParametersFromFolder(module: Module, dir: string, o: LoadOptions = {}): Promise<void> {
  await loadWeightsInto(module, await readWeights(dir), o);
}

/** loadParameters, once the backend can take the weights. */
export async function loadWeightsInto(module: Module, weights: WeightSource, o: LoadOptions = {}): Promise<void> {
  // In a browser page the CPU kernels compile asynchronously: weights loaded before that would
  // stay JavaScript arrays (and float32) for good.
  if (getBackend(o.device).name === 'cpu') await initCpu();
  loadParameters(module, weights, o);
}

/** What a parsed config says the model needs, for checking it against the weights before building it. */
export interface ConfigSize {
  /** config.json's path, named in the error. */
  source: string;
  /** Parameters, from the config's arithmetic (see each config's parameterCount). */
  parameters: number;
  /** The fields that set the count, named in the error. */
  fields: readonly (readonly [string, unknown])[];
}

/**
 * Reads a folder's weights and refuses a config that asks for far more than they hold, before any
 * module is built: `num_hidden_layers: 1000` (within its bound) beside a 1 MB file is an error naming
 * config.json and its size fields, not an attempt to build the model. Every parameter must come from the weights
 * in at least 2 bytes (F16/BF16); the check fires below 1 byte per parameter, so weights that
 * merely lack a tensor or two still get loadParameters' message naming the missing tensors.
 */
export async function readWeightsFor(dir: string, size: ConfigSize): Promise<WeightSource> {
  const weights = await readWeights(dir);
  checkWeightsHoldConfig(size, weights);
  return weights;
}

function checkWeightsHoldConfig(size: ConfigSize, weights: WeightSource): void {
  const names = weights.names();
  const held = names.reduce((n, name) => n + weights.entry(name).byteLength, 0);
  if (size.parameters <= held) return;
  const files = [...new Set(names.map((n) => weights.entry(n).file))];
  const where = files.length === 0 ? 'the weights hold no tensors' : `the weights (${files.slice(0, 3).join(', ')}${files.length > 3 ? ', …' : ''}) hold only ${formatBytes(held)} of tensors`;
  throw new FormatError(
    size.source,
    `the config describes ${formatCount(size.parameters)} parameters (${describeFields(size.fields)}), at least ${formatBytes(2 * size.parameters)} even in 16 bits, but ${where}: a size field is wrong, or the weights are another model's`,
  );
}

export type SaveDtype = 'f32' | 'bf16' | 'f16';

/** Each dtype a model can be saved in: the safetensors dtype, its encoder, and config.json's torch_dtype. */
const SAVE_DTYPES: ReadonlyMap<string, { file: 'F32' | 'BF16' | 'F16'; encode: (x: Float32Array) => Float32Array | Uint16Array; torch: string }> = new Map([
  ['f32', { file: 'F32', encode: (x: Float32Array) => x, torch: 'float32' }],
  ['bf16', { file: 'BF16', encode: f32ToBf16, torch: 'bfloat16' }],
  ['f16', { file: 'F16', encode: f32ToF16, torch: 'float16' }],
] as const);

/** Writes config.json and the parameters (HF names) to `dir`, atomically file by file. */
export async function saveModule(
  module: Module,
  dir: string,
  config: Record<string, unknown>,
  o: { dtype?: SaveDtype; skip?: string[]; maxShardBytes?: number; floatFields?: readonly string[] } = {},
): Promise<void> {
  const dtype = o.dtype ?? 'f32';
  const as = typeof dtype === 'string' ? SAVE_DTYPES.get(dtype) : undefined;
  if (as === undefined) throw new ArgumentError(`save: dtype must be one of ${[...SAVE_DTYPES.keys()].join(', ')}, got ${JSON.stringify(dtype)}`);
  const tensors: Record<string, TensorToWrite> = {};
  for (const [name, p] of module.namedParameters()) {
    if (o.skip?.includes(name)) continue;
    const data = (await p.value.data()) as Float32Array;
    tensors[name] = { dtype: as.file, shape: [...p.shape], data: as.encode(data) } as TensorToWrite;
  }
  await writeModelFolder(dir, { ...config, torch_dtype: as.torch, dtype: as.torch }, tensors, {
    maxShardBytes: o.maxShardBytes,
    floatFields: o.floatFields ?? [],
  });
}

/** What a causal LM family's config gives fromPretrainedModel. */
export interface PretrainedConfig {
  parameterCount(): number;
  sizeFields(): [string, number][];
  readonly fields: { readonly tie_word_embeddings: boolean };
}

/**
 * A causal LM family's fromPretrained: the folder (or Hub id, fetched through HF's cache), its
 * config.json parsed by the family, the weights' headers checked against the config before the
 * model is built (see readWeightsFor), then every parameter loaded (a tied lm_head in the file is
 * skipped; `renames` maps checkpoints written by other code). The model is disposed if loading fails.
 */
export async function fromPretrainedModel<C extends PretrainedConfig, M extends Module>(
  family: string,
  idOrDir: string,
  o: ModelLoadOptions,
  parseConfig: (json: Record<string, unknown>, source: string) => C,
  build: (config: C) => M,
  renames: (config: C) => [string, string][] = () => [],
): Promise<M> {
  checkOptionKeys(`${family}.fromPretrained`, o, MODEL_LOAD_OPTION_KEYS);
  const dir = await resolvePretrained(idOrDir, 'model', o);
  const config = parseConfig(await readConfig(dir), `${dir}/config.json`);
  const weights = await readWeightsFor(dir, { source: `${dir}/config.json`, parameters: config.parameterCount(), fields: config.sizeFields() });
  if (o.device === 'webgpu') await initWebGPU();
  const model = build(config);
  try {
    await loadWeightsInto(model, weights, {
      device: o.device,
      progressCallback: o.progressCallback,
      ignore: config.fields.tie_word_embeddings ? ['lm_head.weight'] : [],
      renames: renames(config),
    });
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}
