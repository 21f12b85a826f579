/**
 * generate() feeds a long batch of prompts in chunks along the sequence (MAMBA_TS_PREFILL_TOKENS
 * tokens over all rows at most), each chunk continuing from the cache: the tokens must equal one
 * prefill's, for Mamba (conv and SSM states carried), Llama (KV cache and positions) and Jamba
 * (both, and the MoE), left-padded batches included, on every backend present.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DeviceName } from '../src/backend/registry.js';
import type { CausalLM } from '../src/generation/causal-lm.js';
import { generate } from '../src/generation/generate.js';
import { JambaConfig } from '../src/models/jamba/config.js';
import { initJambaWeights } from '../src/models/jamba/init.js';
import { JambaForCausalLM } from '../src/models/jamba/modeling.js';
import { LlamaConfig } from '../src/models/llama/config.js';
import { initLlamaWeights } from '../src/models/llama/init.js';
import { LlamaForCausalLM } from '../src/models/llama/modeling.js';
import { MambaConfig } from '../src/models/mamba/config.js';
import { initMambaWeights } from '../src/models/mamba/init.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { availableDevices } from './devices.js';

const V = 61;

function build(family: string, device: DeviceName): CausalLM & { dispose(): void } {
  if (family === 'mamba') {
    const m = new MambaForCausalLM(MambaConfig.create({ hidden_size: 32, state_size: 8, num_hidden_layers: 2, vocab_size: V }));
    initMambaWeights(m, 3, device);
    return m;
  }
  if (family === 'llama') {
    const m = new LlamaForCausalLM(
      LlamaConfig.create({ vocab_size: V, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 48, pad_token_id: 0, bos_token_id: null, eos_token_id: null }),
    );
    initLlamaWeights(m, 3, device);
    return m;
  }
  const m = new JambaForCausalLM(
    JambaConfig.create({
      vocab_size: V, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2, num_experts: 4,
      num_experts_per_tok: 2, expert_layer_period: 2, expert_layer_offset: 1, attn_layer_period: 2, attn_layer_offset: 1, mamba_d_state: 8,
      mamba_d_conv: 4, mamba_expand: 2, mamba_dt_rank: 4, pad_token_id: 0, bos_token_id: null, eos_token_id: null,
    }),
  );
  initJambaWeights(m, 3, device);
  return m;
}

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
  for (const family of ['mamba', 'llama', 'jamba']) {
    test(`chunked prefill gives one prefill's tokens: ${family} on ${device}`, async () => {
      const model = build(family, device);
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
