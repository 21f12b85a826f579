/**
 * Moving a module's parameters to and from HF checkpoint folders. Names are HF's; the only renames
 * are the ones a family declares (e.g. mamba_ssm's `backbone.embedding.` → `backbone.embeddings.`).
 */
import { FormatError } from '../errors.js';
import { readWeights, writeModelFolder, type WeightSource } from '../io/hf-folder.js';
import type { TensorToWrite } from '../io/safetensors.js';
import { f32ToBf16, f32ToF16 } from '../io/safetensors.js';
import type { Module } from '../nn/module.js';
import { halfTensor, tensor } from '../ops/create.js';
import { getBackend, initCpu, type DeviceName } from '../backend/registry.js';
import { HUB_OPTION_KEY_RECORD, type HubOptions } from '../io/hub.js';
import { formatShape, shapeEquals } from '../tensor/shape.js';
import type { ProgressCallback } from '../io/progress.js';
import { optionKeys } from '../options.js';

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
  // In a browser page the CPU kernels compile asynchronously: weights loaded before that would
  // stay JavaScript arrays (and float32) for good.
  if (getBackend(o.device).name === 'cpu') await initCpu();
  loadParameters(module, await readWeights(dir), o);
}

export type SaveDtype = 'f32' | 'bf16' | 'f16';

/** Writes config.json and the parameters (HF names) to `dir`, atomically file by file. */
export async function saveModule(
  module: Module,
  dir: string,
  config: Record<string, unknown>,
  o: { dtype?: SaveDtype; skip?: string[]; maxShardBytes?: number; floatFields?: readonly string[] } = {},
): Promise<void> {
  const dtype = o.dtype ?? 'f32';
  const tensors: Record<string, TensorToWrite> = {};
  for (const [name, p] of module.namedParameters()) {
    if (o.skip?.includes(name)) continue;
    const data = (await p.value.data()) as Float32Array;
    const shape = [...p.shape];
    tensors[name] =
      dtype === 'f32'
        ? { dtype: 'F32', shape, data }
        : dtype === 'bf16'
          ? { dtype: 'BF16', shape, data: f32ToBf16(data) }
          : { dtype: 'F16', shape, data: f32ToF16(data) };
  }
  const torchDtype = { f32: 'float32', bf16: 'bfloat16', f16: 'float16' }[dtype];
  await writeModelFolder(dir, { ...config, torch_dtype: torchDtype, dtype: torchDtype }, tensors, {
    maxShardBytes: o.maxShardBytes,
    floatFields: o.floatFields ?? [],
  });
}
