/**
 * The MAMBA_TS_* switches (tuning, benchmarking, turning a fast path off for comparison) come from
 * the environment in Node; a browser has none, so every switch reads as unset there.
 */
export function envSwitch(name: string): string | undefined {
  return typeof process !== 'undefined' ? process.env[name] : undefined;
}
