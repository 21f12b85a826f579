/**
 * Decoding with a long context: a 1:7 Jamba (one attention layer in eight, MoE in every other MLP)
 * against a pure Mamba with about as many parameters active per token, at given context lengths,
 * on one device. One JSON line per (model, context): decode tokens/s (batch 1, greedy steps
 * through nextLogits + argmax, read back every step), and the decode state's bytes (KV cache +
 * conv/SSM states: what the cache holds, and what the context needs at 16-bit KV / f32 states).
 *
 * The cache is filled synthetically (random keys/values and states of the context's length, as a
 * prefill would leave them): a decode step's cost does not depend on the values, and a real 32k
 * prefill on the CPU would take hours.
 *   node dist/bench/jamba-decode.js [--device cpu|webgpu] [--context 1024,32768] [--steps 32]
 */
import { parseArgs } from 'node:util';
import { initWebGPU, type DeviceName } from '../src/backend/registry.js';
import { JambaCache } from '../src/models/jamba/cache.js';
import { JambaConfig } from '../src/models/jamba/config.js';
import { jambaFootprint } from '../src/models/jamba/footprint.js';
import { initJambaWeights } from '../src/models/jamba/init.js';
import { JambaForCausalLM } from '../src/models/jamba/modeling.js';
import { MambaCache } from '../src/models/mamba/cache.js';
import { MambaConfig } from '../src/models/mamba/config.js';
import { initMambaWeights } from '../src/models/mamba/init.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { KvCache } from '../src/nn/attention.js';
import { argmax, randomUniform, RandomSource } from '../src/ops/index.js';
import { keep } from '../src/tensor/memory.js';
import type { Tensor } from '../src/tensor/tensor.js';

const { values } = parseArgs({
  options: {
    device: { type: 'string', default: 'cpu' },
    context: { type: 'string', default: '1024,32768' },
    steps: { type: 'string', default: '32' },
    hidden: { type: 'string', default: '512' },
  },
});
const device = values.device as DeviceName;
if (device === 'webgpu') await initWebGPU();
const steps = Number(values.steps);
const H = Number(values.hidden);
const V = 32000;
const rng = new RandomSource(11);
const emit = (o: Record<string, unknown>) => console.log(JSON.stringify({ ...o, device }));

const jambaConfig = JambaConfig.create({
  vocab_size: V, hidden_size: H, intermediate_size: 2 * H, num_hidden_layers: 8, num_attention_heads: 8, num_key_value_heads: 2,
  num_experts: 8, num_experts_per_tok: 2, expert_layer_period: 2, expert_layer_offset: 1, attn_layer_period: 8, attn_layer_offset: 4,
  mamba_d_state: 16, mamba_d_conv: 4, mamba_expand: 2,
});
const jf = jambaFootprint(jambaConfig, 0);
// Parameters are allocated lazily, so counting those of unbuilt models is free: a Mamba layer's
// count and the rest (embeddings, head, final norm), to match Jamba's active parameters per token.
const mambaFields = (layers: number) => ({ hidden_size: H, num_hidden_layers: layers, vocab_size: V, use_bias: false, tie_word_embeddings: false });
const mambaCount = (layers: number) => new MambaForCausalLM(MambaConfig.create(mambaFields(layers))).parameterCount();
const mambaLayer = mambaCount(2) - mambaCount(1);
const mambaLayers = Math.max(1, Math.round((jf.activeParameters - (mambaCount(1) - mambaLayer)) / mambaLayer));
const mambaConfig = MambaConfig.create(mambaFields(mambaLayers));

const random = (shape: number[]) => keep(randomUniform(shape, -1, 1, rng, { device }));

async function time(step: (id: number[][]) => Promise<Tensor> | Tensor): Promise<number> {
  let ids = [[1]];
  const run = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const logits = await step(ids);
      const next = argmax(logits);
      ids = [[(await next.data())[0]!]];
      next.dispose();
      logits.dispose();
    }
  };
  await run(3); // warm-up: pipelines, buffers
  const t0 = performance.now();
  await run(steps);
  return steps / ((performance.now() - t0) / 1000);
}

for (const context of values.context.split(',').map(Number)) {
  {
    const model = new JambaForCausalLM(jambaConfig);
    initJambaWeights(model, 0, device);
    const cache = new JambaCache(1, jambaConfig.fields.num_hidden_layers);
    model.model.layers.forEach((layer, i) => {
      if (layer.self_attn) {
        const { numKvHeads, headDim } = layer.self_attn.dims;
        const kv = new KvCache(1, numKvHeads, headDim, device, context + steps + 8);
        const k = random([1, numKvHeads, context, headDim]);
        const v = random([1, numKvHeads, context, headDim]);
        kv.append(k, v);
        k.dispose();
        v.dispose();
        cache.update(i, { kind: 'attention', kv });
      } else {
        const { intermediateSize: E, convKernel: K, stateSize: N } = layer.mamba!.dims;
        cache.update(i, { kind: 'mamba', state: { conv: random([1, E, K - 1]), ssm: random([1, E, N]) } });
      }
    });
    cache.seqlenOffset = context;
    const tps = await time((ids) => model.nextLogits(ids, cache));
    const fp = jambaFootprint(jambaConfig, context, 2);
    emit({
      bench: 'jamba_decode', model: 'jamba-1:7', layers: jambaConfig.fields.num_hidden_layers, hidden: H, params: fp.parameters, active_params: fp.activeParameters,
      context, tokens_per_s: +tps.toFixed(1), state_bytes_held_f32: cache.memoryBytes(), state_bytes_16bit_kv: fp.kvCacheBytes + fp.mambaStateBytes,
      kv_bytes_16bit: fp.kvCacheBytes, mamba_state_bytes: fp.mambaStateBytes,
    });
    cache.dispose();
    model.dispose();
  }
  {
    const model = new MambaForCausalLM(mambaConfig);
    initMambaWeights(model, 0, device);
    const cache = new MambaCache(1, mambaLayers);
    const E = mambaConfig.fields.intermediate_size;
    for (let i = 0; i < mambaLayers; i++) cache.update(i, { conv: random([1, E, mambaConfig.fields.conv_kernel - 1]), ssm: random([1, E, mambaConfig.fields.state_size]) });
    cache.seqlenOffset = context;
    const tps = await time((ids) => model.nextLogits(ids, cache));
    emit({
      bench: 'jamba_decode', model: 'mamba', layers: mambaLayers, hidden: H, params: model.parameterCount(), active_params: model.parameterCount(),
      context, tokens_per_s: +tps.toFixed(1), state_bytes_held_f32: cache.memoryBytes(), state_bytes_16bit_kv: cache.memoryBytes(),
    });
    cache.dispose();
    model.dispose();
  }
}
