/** Normalisation and embedding lookup. */
import { ArgumentError } from '../errors.js';
import { formatShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { expectDtype, expectShape, sameBackend } from './check.js';
import { record, saveForBackward, shouldRecord, noBackwardYet } from '../autograd/tape.js';
import { sumToShape } from '../autograd/backward.js';
import { affine, mul, rsqrt, scale, sub } from './elementwise.js';
import { sum } from './reduce.js';
import { reshape } from './shape.js';
import { linear } from './matmul.js';

/** x · rsqrt(mean(x², -1) + eps) · weight (HF's MambaRMSNorm / LlamaRMSNorm). */
export function rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
  sameBackend('rmsNorm', x, weight);
  expectDtype('rmsNorm', 'x', x, 'f32');
  expectShape('rmsNorm', 'weight', weight, [x.shape[x.rank - 1]!]);
  const y = x.backend.rmsNorm(x, weight, eps);
  if (shouldRecord(x, weight)) {
    const [sx, sw] = [saveForBackward(x), saveForBackward(weight)];
    record('rmsNorm', [x, weight], [y], ([g]) => {
      const fused = x.backend.rmsNormBackward?.(sx, sw, eps, g!);
      if (fused) return [fused.dx, fused.dw];
      // With r = rsqrt(mean(x²) + eps) per row and u = g·w:
      //   dx = r·u − x · r³ · mean(u·x),   dw = Σ_rows g · x · r
      const H = x.shape[x.rank - 1]!;
      const lead = [...x.shape.slice(0, -1), 1];
      const r = reshape(rsqrt(affine(sum(mul(sx, sx)), 1 / H, eps)), lead);
      const u = mul(g!, sw);
      const m = reshape(scale(sum(mul(u, sx)), 1 / H), lead);
      const dx = sub(mul(u, r), mul(sx, mul(m, mul(r, mul(r, r)))));
      const dw = sumToShape(mul(g!, mul(sx, r)), sw.shape);
      return [dx, dw];
    }, [sx, sw]);
  }
  return y;
}

/**
 * linear(rmsNorm(x, normWeight, eps), weight) for x (B, H): one launch on backends with a fused
 * decode kernel (the final norm and the LM head of a decode step), otherwise the two ops. The
 * fused path is taken only when no gradient is recorded.
 */
export function rmsNormLinear(x: Tensor, normWeight: Tensor, eps: number, weight: Tensor): Tensor {
  sameBackend('rmsNormLinear', x, normWeight, weight);
  expectShape('rmsNormLinear', 'weight', weight, [weight.shape[0]!, x.shape[x.rank - 1]!]);
  if (x.rank === 2 && !shouldRecord(x, normWeight, weight)) {
    expectShape('rmsNormLinear', 'normWeight', normWeight, [x.shape[1]!]);
    const fused = x.backend.rmsNormLinear?.(x, normWeight, eps, weight);
    if (fused) return fused;
  }
  return linear(rmsNorm(x, normWeight, eps), weight);
}

/**
 * Rows of `table` (V, H) for int32 `ids` of any shape → (...ids.shape, H). The ids are checked
 * against V first (a read-back on GPU backends, so models check ids while they are still plain
 * numbers and call this with `checked: true`).
 */
export function embedding(ids: Tensor, table: Tensor, checked = false): Tensor {
  sameBackend('embedding', ids, table);
  expectDtype('embedding', 'ids', ids, 'i32');
  if (table.rank !== 2) throw new ArgumentError(`embedding: table must be (V, H), got ${formatShape(table.shape)}`);
  if (table.dtype === 'i32') throw new ArgumentError('embedding: table must be floating point, got i32');
  if (!checked) {
    const v = table.shape[0]!;
    const data = ids.dataSync();
    for (const id of data) {
      if (id < 0 || id >= v) throw new ArgumentError(`embedding: token id ${id} is outside the vocabulary [0, ${v})`);
    }
  }
  const backend = ids.backend;
  if (!backend.embeddingBackward) noBackwardYet(`embedding on ${backend.name}`, table);
  const y = backend.embedding(ids, table);
  if (shouldRecord(table)) {
    const sids = saveForBackward(ids);
    const V = table.shape[0]!;
    record('embedding', [ids, table], [y], ([g]) => [null, backend.embeddingBackward!(sids, g!, V)], [sids]);
  }
  return y;
}
