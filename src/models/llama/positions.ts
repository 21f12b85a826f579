/**
 * Position ids for RoPE, as HF computes them. Without padding a sequence's tokens sit at 0, 1, 2, …
 * (after a cache: continuing from its length). With left padding, HF's generate counts real tokens
 * only — position = cumsum(attention_mask) − 1 — and puts every pad at position 1 (pads are masked
 * out of attention, so where they sit changes nothing for real tokens).
 */
import { ArgumentError } from '../../errors.js';
import type { DeviceName } from '../../backend/registry.js';
import { tensor } from '../../ops/create.js';
import type { Tensor } from '../../tensor/tensor.js';
import { MAX_POSITIONS } from './config.js';

/** B rows of positions start, start + 1, …, start + L − 1 (HF's cache_position). */
export function consecutivePositions(B: number, L: number, start: number): number[][] {
  return Array.from({ length: B }, () => Array.from({ length: L }, (_, t) => start + t));
}

/** The last `L` columns of HF generate's positions for a mask over all tokens so far (B, past + L). */
export function positionsFromMask(mask: number[][], L: number): number[][] {
  return mask.map((row) => {
    let seen = 0;
    const all = row.map((m) => (m === 1 ? seen++ : 1));
    return all.slice(all.length - L);
  });
}

/** Checks caller-given position ids (HF's position_ids): B rows of L integers in [0, MAX_POSITIONS). */
export function checkPositionIds(name: string, ids: unknown, B: number, L: number): asserts ids is number[][] {
  if (!Array.isArray(ids) || ids.length !== B) throw new ArgumentError(`${name}: must have ${B} rows (one per sequence), got ${Array.isArray(ids) ? ids.length : typeof ids}`);
  ids.forEach((row: unknown, b) => {
    if (!Array.isArray(row) || row.length !== L) throw new ArgumentError(`${name}: row ${b} must have ${L} entries (one per token), got ${Array.isArray(row) ? row.length : typeof row}`);
    row.forEach((p: unknown, t) => {
      if (typeof p !== 'number' || !Number.isInteger(p) || p < 0 || p >= MAX_POSITIONS) {
        throw new ArgumentError(`${name}[${b}][${t}] = ${String(p)}; expected an integer in [0, ${MAX_POSITIONS}) (positions must stay exact in float32)`);
      }
    });
  });
}

/** Positions as the int32 (B, L) tensor the rope op takes; refuses ones past what float32 keeps exact. */
export function positionsTensor(positions: number[][], device: DeviceName): Tensor {
  const L = positions[0]?.length ?? 0;
  const flat = Int32Array.from(positions.flat());
  const last = flat.reduce((m, p) => Math.max(m, p), 0);
  if (last >= MAX_POSITIONS) throw new ArgumentError(`position ${last} is past the ${MAX_POSITIONS} tokens a sequence may hold (positions must stay exact in float32)`);
  return tensor(flat, [positions.length, L], { dtype: 'i32', device });
}
