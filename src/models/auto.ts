/** Picks the model class from config.json's model_type, as HF's AutoModelForCausalLM. */
import { FormatError } from '../errors.js';
import { resolveDevice, type DeviceChoice } from './device-choice.js';
import { readConfig } from '../io/hf-folder.js';
import { resolvePretrained, type HubOptions } from '../io/hub.js';
import { MambaForCausalLM } from './mamba/modeling.js';
import { JambaForCausalLM } from './jamba/modeling.js';

export { resolveDevice, chooseDevice, type DeviceChoice } from './device-choice.js';

/** Where to run, and (for a Hub id such as 'state-spaces/mamba-130m-hf') where to fetch from. */
export interface AutoLoadOptions extends HubOptions {
  /**
   * 'cpu' (default), 'webgpu', or 'auto': WebGPU on a hardware adapter, else the CPU (a software
   * adapter such as llvmpipe is slower than the CPU backend). See device-choice.ts.
   */
  device?: DeviceChoice;
}

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
    const dir = await resolvePretrained(idOrDir, 'config', o);
    const raw = await readConfig(dir);
    const type = raw['model_type'];
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
