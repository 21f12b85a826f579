/**
 * Rotary position embedding (RoPE, Su et al. 2021) in HF Llama's layout — `rotate_half`, not
 * interleaved pairs: with half = hd / 2, dimension i < half is rotated together with i + half,
 *
 *   y = x · cos θ + rotate_half(x) · sin θ,   rotate_half(x) = (−x[half:], x[:half]),
 *   θ[b, l, i] = θ[b, l, i + half] = positions[b, l] · invFreq[i]   (the product taken in float32, as HF)
 *
 * for every head of x (B, L, heads, hd): the q and k projections' own layout, before any
 * transpose. Positions are per sequence (left-padded rows start later); invFreq holds the hd / 2
 * inverse frequencies (models/llama/rope-frequencies.ts makes them from a config). A rotation is
 * orthogonal, so the backward rotates the gradient by −θ.
 */
import { ArgumentError } from '../errors.js';
import { formatShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { record, saveForBackward, shouldRecord } from '../autograd/tape.js';
import { expectDtype, expectRank, expectShape, sameBackend } from './check.js';

/** x (B, L, heads, hd) rotated by position; positions int32 (B, L), invFreq f32 (hd / 2). */
export function rope(x: Tensor, positions: Tensor, invFreq: Tensor): Tensor {
  const op = 'rope';
  sameBackend(op, x, positions, invFreq);
  expectRank(op, 'x (B, L, heads, hd)', x, 4);
  expectDtype(op, 'x', x, 'f32');
  const [B, L, , hd] = x.shape as [number, number, number, number];
  if (hd % 2 !== 0) throw new ArgumentError(`${op}: the head dimension must be even (its halves are rotated together), got x ${formatShape(x.shape)}`);
  expectDtype(op, 'positions', positions, 'i32');
  expectShape(op, 'positions (B, L)', positions, [B, L]);
  expectDtype(op, 'invFreq', invFreq, 'f32');
  expectShape(op, 'invFreq (hd / 2)', invFreq, [hd / 2]);
  return rotate(x, positions, invFreq, false);
}

function rotate(x: Tensor, positions: Tensor, invFreq: Tensor, inverse: boolean): Tensor {
  const y = x.backend.rope(x, positions, invFreq, inverse);
  if (shouldRecord(x)) {
    const [sp, si] = [saveForBackward(positions), saveForBackward(invFreq)];
    // Positions and frequencies are not differentiated: no gradient flows to them.
    record('rope', [x], [y], ([g]) => [rotate(g!, sp, si, !inverse)], [sp, si]);
  }
  return y;
}
