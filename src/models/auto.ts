/** Picks the model class from config.json's model_type, as HF's AutoModelForCausalLM. */
import { FormatError } from '../errors.js';
import { initWebGPU, type DeviceName } from '../backend/registry.js';
import { readConfig } from '../io/hf-folder.js';
import { MambaForCausalLM } from './mamba/modeling.js';
import { JambaForCausalLM } from './jamba/modeling.js';
import { checkOptionKeys, optionKeys } from '../options.js';
import type { ProgressCallback } from '../io/progress.js';

export type DeviceChoice = DeviceName | 'auto';

export interface AutoLoadOptions {
  /** 'auto' takes WebGPU when an adapter can be had and the CPU otherwise. Default 'cpu'. */
  device?: DeviceChoice;
  /** Load progress: { status: 'loading', file, loaded, total, progress } after each tensor (see io/progress.ts). */
  progressCallback?: ProgressCallback;
}

/** Its keys; the Hub loader's (revision, cacheDir, token, localFilesOnly) join interface and list together. */
export const AUTO_LOAD_OPTION_KEYS = optionKeys<AutoLoadOptions>({ device: true, progressCallback: true });

/** Model types of this library that are not causal LMs, and where to load them instead. */
const NOT_CAUSAL_LM: Record<string, string> = {
  tsm2: 'a time-series forecasting model, not a causal LM: load it with AutoModelForTimeSeriesForecasting.fromPretrained(dir), or run `mamba-ts forecast --model DIR --csv FILE`',
  dlinear: 'a time-series forecasting model, not a causal LM: load it with AutoModelForTimeSeriesForecasting.fromPretrained(dir), or run `mamba-ts forecast --model DIR --csv FILE`',
  vim2: 'an image classifier (ViM2), not a causal LM: see mambamixer.Vim2ForImageClassification and `mamba-ts info --model DIR`',
};

const families = {
  mamba: MambaForCausalLM,
  jamba: JambaForCausalLM,
} as const;

export type SupportedModelType = keyof typeof families;
export type AnyCausalLM = MambaForCausalLM | JambaForCausalLM;

/**
 * Makes the device ready: 'webgpu' acquires a GPU (or fails with the reason), 'auto' falls back to
 * the CPU when no adapter can be had.
 */
export async function resolveDevice(d: DeviceChoice | undefined): Promise<DeviceName> {
  if (d === undefined || d === 'cpu') return 'cpu';
  if (d === 'webgpu') {
    await initWebGPU();
    return 'webgpu';
  }
  try {
    await initWebGPU();
    return 'webgpu';
  } catch {
    return 'cpu';
  }
}

export const AutoModelForCausalLM = {
  async fromPretrained(dir: string, o: AutoLoadOptions = {}): Promise<AnyCausalLM> {
    checkOptionKeys('AutoModelForCausalLM.fromPretrained', o, AUTO_LOAD_OPTION_KEYS);
    const raw = await readConfig(dir);
    const type = raw['model_type'];
    if (typeof type === 'string' && type in NOT_CAUSAL_LM) {
      throw new FormatError(`${dir}/config.json`, `model_type ${JSON.stringify(type)} is ${NOT_CAUSAL_LM[type]}`);
    }
    if (typeof type !== 'string' || !(type in families)) {
      throw new FormatError(
        `${dir}/config.json`,
        `unknown model_type ${JSON.stringify(type)}; supported: ${Object.keys(families).join(', ')}`,
      );
    }
    return families[type as SupportedModelType].fromPretrained(dir, { device: await resolveDevice(o.device), progressCallback: o.progressCallback });
  },
};
