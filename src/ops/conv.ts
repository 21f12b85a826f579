/** The depthwise causal Conv1d of the Mamba block, over a sequence and one step at a time. */
import { ArgumentError } from '../errors.js';
import { formatShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { expectRank, expectShape, sameBackend } from './check.js';
import { noBackwardYet, record, saveForBackward, shouldRecord } from '../autograd/tape.js';
import { zeros } from './create.js';
import type { DeviceName } from '../backend/registry.js';
import { reshape } from './shape.js';

export interface CausalConvOptions {
  /** Apply silu to the output. */
  silu?: boolean;
  /** (B, D, K-1): the K-1 inputs before x; zeros when absent (the start of a sequence). */
  state?: Tensor | null;
}

/**
 * out[b,t,d] = bias[d] + Σ_k weight[d,k] · x[b, t-(K-1)+k, d] over x (B, L, D) with weight (D, K)
 * (PyTorch's conv1d weight (D, 1, K) squeezed). Returns the output and the new state: the last
 * K-1 inputs, which is what a decoder carries to the next step.
 */
export function causalConv1d(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  o: CausalConvOptions = {},
): { out: Tensor; state: Tensor } {
  const state = o.state ?? null;
  sameBackend('causalConv1d', x, weight, bias, state);
  expectRank('causalConv1d', 'x (B, L, D)', x, 3);
  const [B, , D] = x.shape as [number, number, number];
  if (weight.rank !== 2 || weight.shape[0] !== D || weight.shape[1]! < 1) {
    throw new ArgumentError(`causalConv1d: weight must be (D=${D}, K), got ${formatShape(weight.shape)}`);
  }
  const K = weight.shape[1]!;
  if (bias) expectShape('causalConv1d', 'bias', bias, [D]);
  if (state) expectShape('causalConv1d', 'state', state, [B, D, K - 1]);
  const backend = x.backend;
  if (!backend.causalConv1dBackward) noBackwardYet(`causalConv1d on ${backend.name}`, x, weight, bias, state);
  const co = { silu: o.silu ?? false };
  const r = backend.causalConv1d(x, weight, bias, state, co);
  if (shouldRecord(x, weight, bias, state)) {
    const [sx, sw] = [saveForBackward(x), saveForBackward(weight)];
    const sb = bias ? saveForBackward(bias) : null;
    const ss = state ? saveForBackward(state) : null;
    record('causalConv1d', [x, weight, bias, state], [r.out, r.state], ([gOut, gState]) => {
      const g = backend.causalConv1dBackward!(sx, sw, sb, ss, co, gOut ?? zeros(r.out.shape, { device: x.device as DeviceName }), gState ?? null);
      return [g.dx, g.dw, g.dbias, g.dstate];
    }, [sx, sw, ...(sb ? [sb] : []), ...(ss ? [ss] : [])]);
  }
  return r;
}

/** One decode step: x (B, D) and state (B, D, K-1) → out (B, D), new state. */
export function causalConv1dUpdate(
  x: Tensor,
  state: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  o: { silu?: boolean } = {},
): { out: Tensor; state: Tensor } {
  expectRank('causalConv1dUpdate', 'x (B, D)', x, 2);
  const [B, D] = x.shape as [number, number];
  const x3 = reshape(x, [B, 1, D]);
  const r = causalConv1d(x3, weight, bias, { silu: o.silu ?? false, state });
  x3.dispose();
  const out = reshape(r.out, [B, D]);
  r.out.dispose();
  return { out, state: r.state };
}
