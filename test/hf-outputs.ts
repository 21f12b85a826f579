/** Comparing a model's forward outputs with an HF fixture's expected.safetensors. */
import assert from 'node:assert/strict';
import type { SafetensorsFile } from '../src/io/safetensors.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { assertClose } from './helpers.js';

/**
 * Logits and every hidden state within `rel` × max|ref| of the fixture's `logits` and `hidden_i`
 * (as many as it holds); disposes them.
 */
export async function assertLogitsAndHiddenStates(out: { logits: Tensor; hiddenStates?: Tensor[] }, expected: SafetensorsFile, rel = 1e-4): Promise<void> {
  assert.deepEqual(out.logits.shape, expected.entry('logits').shape);
  assertClose('logits', await out.logits.data(), expected.toFloat64('logits'), rel);
  const hs = out.hiddenStates ?? [];
  assert.equal(hs.length, expected.names().filter((n) => n.startsWith('hidden_')).length);
  for (let i = 0; i < hs.length; i++) {
    assertClose(`hidden_${i}`, await hs[i]!.data(), expected.toFloat64(`hidden_${i}`), rel);
  }
  out.logits.dispose();
  hs.forEach((h) => h.dispose());
}
