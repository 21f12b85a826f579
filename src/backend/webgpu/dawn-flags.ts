/**
 * Dawn options for Node. By default Dawn's robustness transform is off: it clamps every storage
 * access in every shader, and without it the fused scan ran 10–20% faster and prefill 10–15%
 * faster on the H200. Every kernel here bounds its own indices, and the kernels are tested on each
 * backend. MAMBA_TS_DAWN_FLAGS (options separated by ';', '' for none) replaces the defaults.
 */
import { envSwitch } from '../../env.js';

export function dawnFlags(): string[] {
  const env = envSwitch('MAMBA_TS_DAWN_FLAGS');
  if (env === undefined) return ['enable-dawn-features=disable_robustness'];
  return env.split(';').filter(Boolean);
}
