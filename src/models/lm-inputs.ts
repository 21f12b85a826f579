/**
 * What every causal-LM family does with plain-number inputs: token ids turned into an int32 tensor
 * with their shape and range checked, and HF's shifted next-token loss from labels.
 */
import { ArgumentError } from '../errors.js';
import type { DeviceName } from '../backend/registry.js';
import { tensor } from '../ops/create.js';
import { crossEntropy } from '../ops/loss.js';
import { reshape, slice } from '../ops/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkTokenIds, kindOf } from '../generation/token-ids.js';

/** number[][] → an int32 (B, L) tensor, checking that rows are equally long and ids are in the vocabulary. */
export function idsToTensor(ids: number[][], vocabSize: number, device: DeviceName): Tensor {
  checkTokenIds('inputIds', ids, vocabSize); // kinds, empty rows, integers in the vocabulary
  const L = ids[0]!.length;
  const flat = new Int32Array(ids.length * L);
  ids.forEach((row, b) => {
    if (row.length !== L) throw new ArgumentError(`inputIds: row ${b} has ${row.length} tokens, row 0 has ${L}; rows must be equally long`);
    flat.set(row, b * L);
  });
  return tensor(flat, [ids.length, L], { dtype: 'i32', device });
}

/** HF's causal-LM loss: position t predicts label t+1; mean over labels that are not -100. */
export function shiftedCrossEntropy(logits: Tensor, labels: number[][], device: DeviceName): Tensor {
  const [B, L, V] = logits.shape as [number, number, number];
  if (!Array.isArray(labels) || !labels.every(Array.isArray)) throw new ArgumentError(`labels: expected number[][] of the shape of inputIds (${B} × ${L}), got ${kindOf(labels)}`);
  if (labels.length !== B || labels.some((r) => r.length !== L)) {
    throw new ArgumentError(`labels must have the shape of inputIds (${B} × ${L})`);
  }
  const shifted = new Int32Array(B * (L - 1));
  let valid = 0;
  labels.forEach((row, b) =>
    row.slice(1).forEach((id, t) => {
      if (id !== -100 && (!Number.isInteger(id) || id < 0 || id >= V)) {
        throw new ArgumentError(`labels[${b}][${t + 1}] = ${id} is neither a token id in [0, ${V}) nor -100`);
      }
      if (id !== -100) valid++;
      shifted[b * (L - 1) + t] = id;
    }),
  );
  const head = reshape(slice(logits, 1, 0, L - 1), [B * (L - 1), V]);
  return crossEntropy(head, tensor(shifted, [B * (L - 1)], { dtype: 'i32', device }), valid);
}
