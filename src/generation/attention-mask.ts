/**
 * HF's `attention_mask` for batches of prompts of different lengths: (B, L) with 1 for a real token
 * and 0 for padding (left padding: the pads come first). Checked on the host, turned into the
 * tensors the layers take: a key mask for attention and a token mask for Mamba mixers.
 */
import { ArgumentError } from '../errors.js';
import type { DeviceName } from '../backend/registry.js';
import { tensor } from '../ops/create.js';
import type { Tensor } from '../tensor/tensor.js';

/** Checks that `mask` is B rows of L zeros and ones. */
export function checkAttentionMask(mask: number[][], B: number, L: number, name = 'attentionMask'): void {
  if (!Array.isArray(mask) || mask.length !== B) {
    throw new ArgumentError(`${name}: must have ${B} rows (one per sequence), got ${Array.isArray(mask) ? mask.length : typeof mask}`);
  }
  mask.forEach((row, b) => {
    if (!Array.isArray(row) || row.length !== L) throw new ArgumentError(`${name}: row ${b} must have ${L} entries (one per token), got ${Array.isArray(row) ? row.length : typeof row}`);
    row.forEach((v, t) => {
      if (v !== 0 && v !== 1) throw new ArgumentError(`${name}[${b}][${t}] = ${v}; expected 0 (padding) or 1 (a real token)`);
    });
  });
}

export function hasPadding(mask: number[][] | null | undefined): mask is number[][] {
  return !!mask && mask.some((row) => row.includes(0));
}

/** (B, L) float 0/1, as attention's key mask. */
export function keyMaskTensor(mask: number[][], device: DeviceName): Tensor {
  return tensor(Float32Array.from(mask.flat()), [mask.length, mask[0]!.length], { device });
}

/** (B, L, 1) float 0/1, multiplied into a mixer's per-token activations. */
export function tokenMaskTensor(mask: number[][], device: DeviceName): Tensor {
  return tensor(Float32Array.from(mask.flat()), [mask.length, mask[0]!.length, 1], { device });
}

/**
 * Left-pads rows of different lengths to the longest with `padId`: the ids and their attention mask.
 * Rows must not be empty.
 */
export function leftPad(rows: number[][], padId: number): { ids: number[][]; attentionMask: number[][] } {
  if (!Array.isArray(rows) || rows.length === 0 || !rows.every(Array.isArray)) {
    throw new ArgumentError('inputIds must be a non-empty number[][] (batch × tokens)');
  }
  rows.forEach((r, b) => {
    if (r.length === 0) throw new ArgumentError(`inputIds: row ${b} is empty`);
  });
  const L = Math.max(...rows.map((r) => r.length));
  return {
    ids: rows.map((r) => [...new Array<number>(L - r.length).fill(padId), ...r]),
    attentionMask: rows.map((r) => [...new Array<number>(L - r.length).fill(0), ...new Array<number>(r.length).fill(1)]),
  };
}
