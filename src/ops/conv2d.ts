/** The depthwise 3×3 (any odd K) conv of the vision token mixer (VMamba's SS2D, ViM2), channels-last. */
import { ArgumentError } from '../errors.js';
import { formatShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { expectDtype, expectRank, expectShape, sameBackend } from './check.js';
import { noBackwardYet, record, saveForBackward, shouldRecord } from '../autograd/tape.js';

/**
 * out[b,h,w,c] = bias[c] + Σ_{i,j<K} weight[c,i,j] · x[b, h+i-P, w+j-P, c], P = (K-1)/2, zeros
 * outside the image: PyTorch's Conv2d(C, C, K, padding=P, groups=C) on the (B, C, H, W) transpose.
 * x is (B, H, W, C), channels-last, because every other layer of the model (Linear, norms, the
 * scan) works on the last axis; weight is (C, K, K) with K odd.
 */
export function depthwiseConv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  sameBackend('depthwiseConv2d', x, weight, bias);
  expectRank('depthwiseConv2d', 'x (B, H, W, C)', x, 4);
  expectDtype('depthwiseConv2d', 'x', x, 'f32');
  const C = x.shape[3]!;
  const K = weight.shape[1] ?? 0;
  if (weight.rank !== 3 || weight.shape[0] !== C || weight.shape[2] !== K || K % 2 !== 1) {
    throw new ArgumentError(`depthwiseConv2d: weight must be (C=${C}, K, K) with K odd, got ${formatShape(weight.shape)}`);
  }
  expectDtype('depthwiseConv2d', 'weight', weight, 'f32');
  if (bias) expectShape('depthwiseConv2d', 'bias', bias, [C]);
  const backend = x.backend;
  if (!backend.depthwiseConv2dBackward) noBackwardYet(`depthwiseConv2d on ${backend.name}`, x, weight, bias);
  const y = backend.depthwiseConv2d(x, weight, bias);
  if (shouldRecord(x, weight, bias)) {
    const [sx, sw] = [saveForBackward(x), saveForBackward(weight)];
    const sb = bias ? saveForBackward(bias) : null;
    record('depthwiseConv2d', [x, weight, bias], [y], ([g]) => {
      const r = backend.depthwiseConv2dBackward!(sx, sw, sb, g!);
      return [r.dx, r.dw, r.dbias];
    }, [sx, sw, ...(sb ? [sb] : [])]);
  }
  return y;
}
