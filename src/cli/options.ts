/** Option parsers shared by the subcommands: each rejects bad values with the flag's name. */
import { InvalidArgumentError } from 'commander';
import { checkDeviceChoice, type DeviceChoice } from '../models/device-choice.js';

export function intOption(flag: string, min = 0, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${flag} must be an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`}, got "${v}"`);
    }
    return n;
  };
}

export function floatOption(flag: string, check: (x: number) => boolean, what: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || !check(n)) throw new InvalidArgumentError(`${flag} must be ${what}, got "${v}"`);
    return n;
  };
}

export function deviceOption(v: string): DeviceChoice {
  try {
    return checkDeviceChoice(v, '--device')!;
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}
