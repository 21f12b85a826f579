/**
 * Benchmark variants: the same work under other MAMBA_TS_* switches in one process (the machine
 * drifts between processes by more than many differences). A spec is variants separated by ';',
 * each a list of NAME=VALUE switches separated by ',', e.g.
 * "MAMBA_TS_STEP_SSM=states;MAMBA_TS_BATCH_SPLITK=all,MAMBA_TS_BATCH_TILE_PREFETCH=1".
 */
import { ArgumentError } from '../src/errors.js';

export interface SwitchVariant {
  name: string;
  env: Record<string, string>;
}

/** The variants of a spec; `what` names the spec's source in errors (a flag or a variable). */
export function parseVariants(spec: string, what: string): SwitchVariant[] {
  return spec.split(';').filter((v) => v.trim() !== '').map((v) => {
    const env: Record<string, string> = {};
    for (const kv of v.split(',')) {
      const at = kv.indexOf('=');
      if (at <= 0) throw new ArgumentError(`${what}: "${kv.trim()}" is not NAME=VALUE`);
      env[kv.slice(0, at).trim()] = kv.slice(at + 1).trim();
    }
    return { name: v.trim(), env };
  });
}

/** Sets the switches for a while: restore() puts the environment back as it was. */
export function withSwitches(env: Record<string, string>): { restore(): void } {
  const before = Object.keys(env).map((k) => [k, process.env[k]] as const);
  Object.assign(process.env, env);
  return {
    restore() {
      for (const [k, v] of before) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    },
  };
}
