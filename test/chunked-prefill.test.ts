/**
 * generate() feeds a long batch of prompts in chunks along the sequence (MAMBA_TS_PREFILL_TOKENS
 * tokens over all rows at most), each chunk continuing from the cache: the tokens must equal one
 * prefill's, for Mamba (conv and SSM states carried), Llama (KV cache and positions) and Jamba
 * (both, and the MoE), left-padded batches included, on every backend present.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generate } from '../src/generation/generate.js';
import { availableDevices } from './devices.js';
import { buildTiny, TINY_FAMILIES, V } from './tiny-causal-lms.js';
import { assertClose } from './helpers.js';
import { leftPad } from '../src/generation/attention-mask.js';
import type { Tensor } from '../src/tensor/tensor.js';

async function withPrefillTokens<T>(n: number | null, fn: () => Promise<T>): Promise<T> {
  if (n === null) delete process.env['MAMBA_TS_PREFILL_TOKENS'];
  else process.env['MAMBA_TS_PREFILL_TOKENS'] = String(n);
  try {
    return await fn();
  } finally {
    delete process.env['MAMBA_TS_PREFILL_TOKENS'];
  }
}

const prompts = Array.from({ length: 3 }, (_, b) => Array.from({ length: 41 }, (_, i) => (b * 13 + i * 7 + 1) % V));
const ragged = [prompts[0]!, prompts[1]!.slice(9), prompts[2]!.slice(4)];

for (const device of await availableDevices()) {
  for (const family of TINY_FAMILIES) {
    test(`chunked prefill gives one prefill's tokens: ${family} on ${device}`, async () => {
      const model = buildTiny(family, device);
      try {
        const cases = family === 'mamba' ? [prompts] : [prompts, ragged];
        for (const p of cases) {
          const whole = await withPrefillTokens(null, () => generate(model, p, { maxNewTokens: 6, eosTokenId: null }));
          // At least 16 positions per chunk: 3 chunks, the last one shorter.
          const chunked = await withPrefillTokens(15, () => generate(model, p, { maxNewTokens: 6, eosTokenId: null }));
          assert.deepEqual(chunked, whole, p === ragged ? 'left-padded batch' : 'batch');
          const sampled = (n: number | null) => withPrefillTokens(n, () => generate(model, p, { maxNewTokens: 4, eosTokenId: null, doSample: true, seed: 5 }));
          assert.deepEqual(await sampled(15), await sampled(null), 'sampled');
        }
      } finally {
        model.dispose();
      }
    });
  }
}

for (const device of await availableDevices()) {
  test(`a left-padded batch fed one position at a time gives one prefill's logits: jamba on ${device}`, async () => {
    // One-token calls with padding take the parallel path (the recurrent step knows no mask):
    // before, the padded rows' Mamba states took in the padding and their logits were off by ~0.9.
    const model = buildTiny('jamba', device);
    try {
      const { ids, attentionMask } = leftPad([prompts[0]!.slice(0, 12), prompts[1]!.slice(0, 7), prompts[2]!.slice(0, 10)], 0);
      const whole = model.createCache(3);
      const want = (await model.nextLogits(ids, whole, attentionMask)).data();
      const stepped = model.createCache(3);
      let got: Tensor | null = null;
      for (let s = 0; s < 12; s++) {
        got?.dispose();
        got = await model.nextLogits(ids.map((r) => [r[s]!]), stepped, attentionMask.map((r) => [r[s]!]));
      }
      assertClose('logits after the last position', await got!.data(), await want, 1e-5);
      whole.dispose();
      stepped.dispose();
    } finally {
      model.dispose();
    }
  });
}
