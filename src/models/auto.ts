/** Picks the model class from config.json's model_type, as HF's AutoModelForCausalLM. */
import { FormatError } from '../errors.js';
import { initWebGPU, type DeviceName } from '../backend/registry.js';
import { readConfig } from '../io/hf-folder.js';
import { MambaForCausalLM } from './mamba/modeling.js';
import { JambaForCausalLM } from './jamba/modeling.js';

export type DeviceChoice = DeviceName | 'auto';

export interface AutoLoadOptions {
  /** 'auto' takes WebGPU when an adapter can be had and the CPU otherwise. Default 'cpu'. */
  device?: DeviceChoice;
}

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
