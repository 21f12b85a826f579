/**
 * trainer_state.json, checked field by field before a run resumes from it: a hand-edited or damaged
 * file must be refused by name, never trusted (`step: -5` trained extra steps, `step: 1e9` trained
 * nothing, `validLosses: {}` crashed after saving).
 */
import { FormatError } from '../errors.js';
import { parseJsonObject } from '../io/json.js';
import type { LossPoint } from './loss-curve.js';

/** Far above real files (a loss point is ~40 bytes: a million steps is 40 MB), far below memory. */
export const TRAINER_STATE_MAX_BYTES = 256 * 1024 * 1024;

export interface TrainerState {
  step: number;
  rngState: number;
  [key: string]: unknown;
}

export interface TrainerStateLimits {
  /** The most steps the resumed run trains: a checkpoint past them cannot be continued. */
  maxStep?: number;
}

/**
 * Parses and checks trainer_state.json (`file` names it in errors): `step` an integer in
 * [0, maxStep], `rngState` a 32-bit unsigned integer, and, where present, `trainLosses` /
 * `validLosses` (arrays of { step, loss } with steps increasing, at most `step`, and finite losses),
 * `vocabulary` (null or an array of strings) and `expertLoad` (arrays of fractions in [0, 1]).
 */
export function parseTrainerState(text: string, file: string, limits: TrainerStateLimits = {}): TrainerState {
  const raw = parseJsonObject(text, file);
  const fail = (field: string, expected: string, got: unknown): never => {
    throw new FormatError(file, `field "${field}": expected ${expected}, got ${describe(got)}`);
  };
  const step = raw['step'];
  const maxStep = limits.maxStep ?? Number.MAX_SAFE_INTEGER;
  if (typeof step !== 'number' || !Number.isSafeInteger(step) || step < 0) fail('step', 'an integer >= 0', step);
  if ((step as number) > maxStep) {
    throw new FormatError(file, `field "step": the checkpoint is at step ${step}, past the ${maxStep} steps this run trains; raise "steps" to continue it, or start over`);
  }
  const rngState = raw['rngState'];
  if (typeof rngState !== 'number' || !Number.isInteger(rngState) || rngState < 0 || rngState > 0xffffffff) fail('rngState', 'an integer in [0, 2^32)', rngState);
  for (const field of ['trainLosses', 'validLosses']) {
    if (field in raw) checkLossPoints(raw[field], field, step as number, fail);
  }
  const vocabulary = raw['vocabulary'];
  if (vocabulary !== undefined && vocabulary !== null && !(Array.isArray(vocabulary) && vocabulary.every((v) => typeof v === 'string'))) {
    fail('vocabulary', 'null or an array of strings', vocabulary);
  }
  const load = raw['expertLoad'];
  if (load !== undefined && !(Array.isArray(load) && load.every((l) => Array.isArray(l) && l.every((f) => typeof f === 'number' && f >= 0 && f <= 1)))) {
    fail('expertLoad', 'an array of arrays of fractions in [0, 1]', load);
  }
  return raw as TrainerState;
}

function checkLossPoints(value: unknown, field: string, step: number, fail: (field: string, expected: string, got: unknown) => never): asserts value is LossPoint[] {
  if (!Array.isArray(value)) fail(field, 'an array of { "step", "loss" }', value);
  let last = 0;
  (value as unknown[]).forEach((p, i) => {
    const at = `${field}[${i}]`;
    if (typeof p !== 'object' || p === null || Array.isArray(p)) fail(at, 'an object { "step", "loss" }', p);
    const { step: s, loss } = p as Record<string, unknown>;
    if (typeof s !== 'number' || !Number.isSafeInteger(s) || s <= last || s > step) fail(`${at}.step`, `an integer in (${last}, ${step}] (steps increase, up to the checkpoint's)`, s);
    if (typeof loss !== 'number' || !Number.isFinite(loss)) fail(`${at}.loss`, 'a finite number', loss);
    last = s as number;
  });
}

/** A value for an error message: numbers and booleans as they are, anything else by kind (file contents are never quoted). */
function describe(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v === undefined) return 'nothing (the field is missing)';
  if (v === null) return 'null';
  return Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}
