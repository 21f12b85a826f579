/**
 * Batched decoding equals one-by-one generation: a batch of prompts generated together (greedy,
 * and sampled with a seed: row b draws from seed + b) gives each row the tokens of that prompt
 * generated alone, for Mamba, Llama and Jamba on every backend present. On WebGPU the batch runs
 * the replayed decode step (6 rows: Mamba's blocked kernels) and the rows alone the batch-1 one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generate, type GenerateOptions } from '../src/generation/generate.js';
import { availableDevices } from './devices.js';
import { buildTiny, TINY_FAMILIES, V } from './tiny-causal-lms.js';

const prompts = Array.from({ length: 6 }, (_, b) => Array.from({ length: 9 }, (_, i) => (b * 11 + i * 5 + 2) % V));

for (const device of await availableDevices()) {
  for (const family of TINY_FAMILIES) {
    test(`a batch generates each row's solo tokens: ${family} on ${device}`, async () => {
      const model = buildTiny(family, device);
      try {
        const runs: [string, GenerateOptions, (b: number) => GenerateOptions][] = [
          ['greedy', {}, () => ({})],
          ['sampled', { doSample: true, temperature: 0.9, topK: 20, seed: 7 }, (b) => ({ doSample: true, temperature: 0.9, topK: 20, seed: 7 + b })],
        ];
        for (const [kind, batchOptions, soloOptions] of runs) {
          const batch = await generate(model, prompts, { maxNewTokens: 10, eosTokenId: null, ...batchOptions });
          for (const [b, p] of prompts.entries()) {
            const [solo] = await generate(model, [p], { maxNewTokens: 10, eosTokenId: null, ...soloOptions(b) });
            assert.deepEqual(batch[b], solo, `${kind}, row ${b}`);
          }
        }
      } finally {
        model.dispose();
      }
    });
  }
}

// The same 6-row batch with the row threshold of the register-tiled projections
// (backend/webgpu/kernels/batch-linear.ts, 32 rows by default) moved below it, so that the
// replayed batch step runs them while the solo rows run the batch-1 gemv.
if ((await availableDevices()).includes('webgpu')) {
  for (const family of TINY_FAMILIES) {
    test(`a batch through the tiled projections generates each row's solo tokens: ${family} on webgpu`, async () => {
      process.env['MAMBA_TS_BATCH_LINEAR_ROWS'] = '5';
      const model = buildTiny(family, 'webgpu');
      try {
        const batch = await generate(model, prompts, { maxNewTokens: 10, eosTokenId: null });
        for (const [b, p] of prompts.entries()) {
          const [solo] = await generate(model, [p], { maxNewTokens: 10, eosTokenId: null });
          assert.deepEqual(batch[b], solo, `greedy, row ${b}`);
        }
      } finally {
        delete process.env['MAMBA_TS_BATCH_LINEAR_ROWS'];
        model.dispose();
      }
    });
  }
}
