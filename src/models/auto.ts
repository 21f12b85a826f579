/** Picks the model class from config.json's model_type, as HF's AutoModelForCausalLM. */
import { FormatError } from '../errors.js';
import { resolveDevice, type DeviceChoice } from './device-choice.js';
import { readConfig } from '../io/hf-folder.js';
import { MambaForCausalLM } from './mamba/modeling.js';
import { JambaForCausalLM } from './jamba/modeling.js';

export { resolveDevice, chooseDevice, type DeviceChoice } from './device-choice.js';

export interface AutoLoadOptions {
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
  async fromPretrained(dir: string, o: AutoLoadOptions = {}): Promise<AnyCausalLM> {
    const raw = await readConfig(dir);
    const type = raw['model_type'];
    if (typeof type !== 'string' || !(type in families)) {
      throw new FormatError(
        `${dir}/config.json`,
        `unknown model_type ${JSON.stringify(type)}; supported: ${Object.keys(families).join(', ')}`,
      );
    }
    return families[type as SupportedModelType].fromPretrained(dir, { device: await resolveDevice(o.device) });
  },
};
