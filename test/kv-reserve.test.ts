/**
 * generate() tells the cache how long the sequences will get (DecodeCache.reserve), so KV caches
 * are allocated once at prompt + new tokens − 1 positions instead of growing by copies (a growth
 * holds the old and new buffers at once and overshoots — at a 1.3B Transformer's batch 64 that
 * decided whether the batch fit in 80 GB). Same tokens as without the hint; Jamba's attention
 * layers likewise; a longer run than planned still grows.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CausalLM, DecodeCache, DecodeStepper, TokenPicker } from '../src/generation/causal-lm.js';
import { generate } from '../src/generation/generate.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { KvCache } from '../src/nn/attention.js';
import { LlamaConfig } from '../src/models/llama/config.js';
import { initLlamaWeights } from '../src/models/llama/init.js';
import { LlamaForCausalLM } from '../src/models/llama/modeling.js';
import type { LlamaCache } from '../src/models/llama/cache.js';
import { JambaConfig } from '../src/models/jamba/config.js';
import { initJambaWeights } from '../src/models/jamba/init.js';
import { JambaForCausalLM } from '../src/models/jamba/modeling.js';
import type { JambaCache } from '../src/models/jamba/cache.js';
import { availableDevices } from './devices.js';

/** The model as generate() sees it, keeping its cache; `hint: false` hides the cache's reserve(). */
class Watched<C extends DecodeCache> implements CausalLM<C> {
  readonly vocabSize: number;
  readonly eosTokenId = null;
  readonly padTokenId: number | null;
  readonly supportsAttentionMask: boolean;
  cache: C | null = null;
  constructor(
    private readonly inner: CausalLM<C>,
    private readonly hint: boolean,
  ) {
    this.vocabSize = inner.vocabSize;
    this.padTokenId = inner.padTokenId;
    this.supportsAttentionMask = inner.supportsAttentionMask ?? false;
  }
  createCache(batchSize: number): C {
    const c = this.inner.createCache(batchSize);
    if (!this.hint) Object.defineProperty(c, 'reserve', { value: undefined });
    this.cache = c;
    return c;
  }
  nextLogits(ids: number[][] | Tensor, cache: C, mask?: number[][]): Tensor | Promise<Tensor> {
    return this.inner.nextLogits(ids, cache, mask);
  }
  decodeStepper(cache: C, pick: TokenPicker): DecodeStepper | null {
    return this.inner.decodeStepper?.(cache, pick) ?? null;
  }
}

const kvsOf = {
  llama: (c: DecodeCache) => (c as LlamaCache).layers.filter((kv): kv is KvCache => kv !== null),
  jamba: (c: DecodeCache) => (c as JambaCache).layers.flatMap((s) => (s?.kind === 'attention' ? [s.kv] : [])),
};

function tinyLlama(device: 'cpu' | 'webgpu'): LlamaForCausalLM {
  const m = new LlamaForCausalLM(
    LlamaConfig.create({ vocab_size: 64, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2 }),
  );
  initLlamaWeights(m, 3, device);
  return m;
}

function tinyJamba(device: 'cpu' | 'webgpu'): JambaForCausalLM {
  const m = new JambaForCausalLM(
    JambaConfig.create({
      vocab_size: 64,
      hidden_size: 32,
      intermediate_size: 48,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      attn_layer_period: 2,
      attn_layer_offset: 1,
      expert_layer_period: 2,
      expert_layer_offset: 1,
      num_experts: 2,
      mamba_d_state: 4,
      mamba_dt_rank: 4,
    }),
  );
  initJambaWeights(m, 3, device);
  return m;
}

const devices = await availableDevices();
for (const device of ['cpu', 'webgpu'] as const) {
  for (const [name, make] of [
    ['llama', tinyLlama],
    ['jamba', tinyJamba],
  ] as const) {
    test(`${name} on ${device}: generate() allocates the KV cache once for prompt + new tokens, same tokens as growing`, { skip: !devices.includes(device) && 'no WebGPU adapter' }, async () => {
      const model = make(device);
      const prompts = [
        [1, 2, 3, 4, 5],
        [9, 8, 7, 6, 5],
      ];
      const maxNewTokens = 40; // past the first capacity (16 for 5 tokens) and its doubling
      const capacities: number[][] = [];
      const planned = new Watched<DecodeCache>(model as CausalLM<DecodeCache>, true);
      const onStep = () => capacities.push(kvsOf[name](planned.cache!).map((kv) => kv.capacity));
      // Count the growths (copies into new buffers): with the plan there are none, not even after the prompt.
      const proto = KvCache.prototype as unknown as { grow(capacity: number): void };
      const grow = proto.grow;
      let growths = 0;
      proto.grow = function (this: KvCache, capacity: number) {
        growths++;
        grow.call(this, capacity);
      };
      let withPlan: number[][];
      try {
        withPlan = await generate(planned, prompts, { maxNewTokens, eosTokenId: null, onStep });
      } finally {
        proto.grow = grow;
      }
      assert.equal(growths, 0, 'the KV buffers were allocated at the planned length from the start');
      assert.ok(capacities.length === maxNewTokens && capacities[0]!.length > 0);
      for (const c of capacities) assert.deepEqual(new Set(c), new Set([5 + maxNewTokens - 1]), 'one allocation, exactly the planned length');
      const growing = new Watched<DecodeCache>(model as CausalLM<DecodeCache>, false);
      const seen: number[] = [];
      const withoutPlan = await generate(growing, prompts, { maxNewTokens, eosTokenId: null, onStep: () => seen.push(kvsOf[name](growing.cache!)[0]!.capacity) });
      assert.deepEqual(withPlan, withoutPlan);
      assert.ok(new Set(seen).size > 1, 'without the hint the cache grows');
      model.dispose();
    });
  }
}

test('a KV cache planned for fewer tokens than arrive still grows', () => {
  const kv = new KvCache(1, 1, 4, 'cpu');
  kv.plan(20);
  assert.equal(kv.capacity, 20);
  kv.plan(10);
  assert.equal(kv.capacity, 20, 'a plan never shrinks the buffers');
  kv.reserve(kv.grownCapacity(21));
  assert.ok(kv.capacity >= 21);
  kv.dispose();
});
