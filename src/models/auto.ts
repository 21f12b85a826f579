/** Picks the model class from config.json's model_type, as HF's AutoModelForCausalLM. */
import { FormatError } from '../errors.js';
import { resolveDevice, type DeviceChoice } from './device-choice.js';
import { readConfig } from '../io/hf-folder.js';
import { HUB_OPTION_KEY_RECORD, resolvePretrained, type HubOptions } from '../io/hub.js';
import { MambaForCausalLM } from './mamba/modeling.js';
import { JambaForCausalLM } from './jamba/modeling.js';
import { checkOptionKeys, optionKeys } from '../options.js';
import type { ProgressCallback } from '../io/progress.js';

export { resolveDevice, chooseDevice, type DeviceChoice } from './device-choice.js';

/** Where to run, and (for a Hub id such as 'state-spaces/mamba-130m-hf') where to fetch from. */
export interface AutoLoadOptions extends HubOptions {
  /**
   * 'cpu' (default), 'webgpu', or 'auto': WebGPU on a hardware adapter, else the CPU (a software
   * adapter such as llvmpipe is slower than the CPU backend). See device-choice.ts.
   */
  device?: DeviceChoice;
  /** Download and load progress (see io/progress.ts). */
  progressCallback?: ProgressCallback;
}

/** Its keys (the compiler keeps list and interface in step). */
export const AUTO_LOAD_OPTION_KEYS = optionKeys<AutoLoadOptions>({ ...HUB_OPTION_KEY_RECORD, device: true, progressCallback: true });

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

export const AutoModelForCausalLM = {
  /**
   * Loads a model folder, or a Hub repository (`owner/name`, when no such local folder exists) through
   * HuggingFace's cache. config.json comes first, so an unsupported model_type fails before any
   * weights are downloaded.
   */
  async fromPretrained(idOrDir: string, o: AutoLoadOptions = {}): Promise<AnyCausalLM> {
    checkOptionKeys('AutoModelForCausalLM.fromPretrained', o, AUTO_LOAD_OPTION_KEYS);
    const dir = await resolvePretrained(idOrDir, 'config', o);
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
    // The revision's commit is in refs/ now: the family's own look-up need not ask the Hub again.
    return families[type as SupportedModelType].fromPretrained(idOrDir, { ...o, refresh: false, device: await resolveDevice(o.device) });
  },
};
