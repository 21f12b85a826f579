/** Picks the model class from config.json's model_type, as HF's AutoModelForCausalLM. */
import { FormatError } from '../errors.js';
import { resolveDevice, type DeviceChoice } from './device-choice.js';
import { readConfig } from '../io/hf-folder.js';
import { HUB_OPTION_KEY_RECORD, resolvePretrained, type HubOptions } from '../io/hub.js';
import { MambaForCausalLM } from './mamba/modeling.js';
import { JambaForCausalLM } from './jamba/modeling.js';
import { LlamaForCausalLM } from './llama/modeling.js';
import { Mamba2ForCausalLM } from './mamba2/modeling.js';
import { checkOptionKeys, optionKeys } from '../options.js';
import { preview } from './config-fields.js';
import type { ModelLoadOptions } from './pretrained.js';
import type { ProgressCallback } from '../io/progress.js';
import { quoteForMessage } from '../quote.js';

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

/*
 * Lookups by config.json's model_type are Maps: a plain object would answer "constructor",
 * "__proto__" or "toString" with Object's own members ("fromPretrained is not a function").
 */

const FORECASTING = 'a time-series forecasting model, not a causal LM: load it with AutoModelForTimeSeriesForecasting.fromPretrained(dir), or run `mamba-ts forecast --model DIR --csv FILE`';
/** Model types of this library that are not causal LMs, and where to load them instead. */
const NOT_CAUSAL_LM: ReadonlyMap<string, string> = new Map([
  ['tsm2', FORECASTING],
  ['dlinear', FORECASTING],
  ['vim2', 'an image classifier (ViM2), not a causal LM: see mambamixer.Vim2ForImageClassification and `mamba-ts info --model DIR`'],
]);

export type SupportedModelType = 'mamba' | 'jamba' | 'llama' | 'mamba2';
export type AnyCausalLM = MambaForCausalLM | JambaForCausalLM | LlamaForCausalLM | Mamba2ForCausalLM;

type CausalLMClass = { fromPretrained(idOrDir: string, o: ModelLoadOptions): Promise<AnyCausalLM> };
const families: ReadonlyMap<string, CausalLMClass> = new Map<SupportedModelType, CausalLMClass>([
  ['mamba', MambaForCausalLM],
  ['jamba', JambaForCausalLM],
  ['llama', LlamaForCausalLM],
  ['mamba2', Mamba2ForCausalLM],
]);

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
    const elsewhere = typeof type === 'string' ? NOT_CAUSAL_LM.get(type) : undefined;
    if (elsewhere !== undefined) throw new FormatError(`${dir}/config.json`, `model_type ${quoteForMessage(type)} is ${elsewhere}`);
    const family = typeof type === 'string' ? families.get(type) : undefined;
    if (family === undefined) {
      throw new FormatError(`${dir}/config.json`, `unknown model_type ${preview(type)}; supported: ${[...families.keys()].join(', ')}`);
    }
    // The revision's commit is in refs/ now: the family's own look-up need not ask the Hub again.
    return family.fromPretrained(idOrDir, { ...o, refresh: false, device: await resolveDevice(o.device) });
  },
};
