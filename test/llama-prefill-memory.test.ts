/**
 * Llama's nextLogits frees each layer's temporaries when the layer is done: the tensors alive when
 * a layer starts do not grow with depth (they did, and a 1.3B model's prompt chunk at batch 64 ×
 * 256 positions held every layer's activations at once: past 80 GB of device memory).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LlamaConfig } from '../src/models/llama/config.js';
import { initLlamaWeights } from '../src/models/llama/init.js';
import { LlamaForCausalLM } from '../src/models/llama/modeling.js';
import { liveTensorCount } from '../src/tensor/memory.js';
import { noGrad } from '../src/autograd/tape.js';

test('a Llama prompt pass holds one layer of activations at a time', () => {
  const model = new LlamaForCausalLM(
    LlamaConfig.create({ vocab_size: 64, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 6, num_attention_heads: 4, num_key_value_heads: 2 }),
  );
  initLlamaWeights(model, 1, 'cpu');
  const atLayerStart: number[] = [];
  for (const layer of model.model.layers) {
    const forward = layer.forward.bind(layer);
    layer.forward = (...args: Parameters<typeof forward>) => {
      atLayerStart.push(liveTensorCount());
      return forward(...args);
    };
  }
  const cache = model.createCache(2);
  const before = liveTensorCount();
  const logits = noGrad(() => model.nextLogits([[1, 2, 3, 4, 5, 6, 7, 8], [8, 7, 6, 5, 4, 3, 2, 1]], cache));
  assert.equal(atLayerStart.length, 6);
  // From the second layer on, each layer's cache is one more pair of kept buffers (k, v) than the last.
  for (let i = 2; i < 6; i++) assert.equal(atLayerStart[i]! - atLayerStart[i - 1]!, 2, `layer ${i} starts with ${atLayerStart[i]} live tensors, layer ${i - 1} with ${atLayerStart[i - 1]}`);
  logits.dispose();
  cache.dispose();
  assert.equal(liveTensorCount(), before);
  model.dispose();
});
