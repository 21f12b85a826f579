/** Picks the model class from config.json's model_type, as HF's AutoModelForCausalLM. */
import { FormatError } from '../errors.js';
import { hasBackend, type DeviceName } from '../backend/registry.js';
import { readConfig } from '../io/hf-folder.js';
import { MambaForCausalLM } from './mamba/modeling.js';

export type DeviceChoice = DeviceName | 'auto';

export interface AutoLoadOptions {
  /** 'auto' takes WebGPU when it is initialised and the CPU otherwise. Default 'cpu'. */
  device?: DeviceChoice;
}

const families = {
  mamba: MambaForCausalLM,
} as const;

export type SupportedModelType = keyof typeof families;
export type AnyCausalLM = MambaForCausalLM;

export function resolveDevice(d: DeviceChoice | undefined): DeviceName {
  if (d === undefined || d === 'cpu') return 'cpu';
  if (d === 'auto') return hasBackend('webgpu') ? 'webgpu' : 'cpu';
  return d;
}

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
    return families[type as SupportedModelType].fromPretrained(dir, { device: resolveDevice(o.device) });
  },
};
