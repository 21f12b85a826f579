/**
 * CPU baseline: prefill and decode throughput of a mamba-130m-sized model (d_model 768, 24 layers,
 * vocab 50280) with random weights, batch 1. Prints one JSON line per measurement.
 *   npm run bench [-- --prefill 512 --decode 64 --layers 24]
 */
import { parseArgs } from 'node:util';
import { MambaConfig } from '../src/models/mamba/config.js';
import { initMambaWeights } from '../src/models/mamba/init.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { liveTensorCount } from '../src/tensor/memory.js';

const { values } = parseArgs({
  options: {
    prefill: { type: 'string', default: '512' },
    decode: { type: 'string', default: '64' },
    layers: { type: 'string', default: '24' },
  },
});
const L = Number(values.prefill);
const steps = Number(values.decode);
const config = MambaConfig.create({ hidden_size: 768, num_hidden_layers: Number(values.layers), vocab_size: 50280, use_bias: false });
const model = new MambaForCausalLM(config);
initMambaWeights(model, 0);
const ids = [Array.from({ length: L }, (_, i) => (i * 7919) % 50280)];
const common = { model: 'mamba-130m-shape', params: model.parameterCount(), device: 'cpu', batch: 1, node: process.version };

// Warm-up (JIT) on a short prompt.
{
  const c = model.createCache(1);
  model.nextLogits([ids[0]!.slice(0, 16)], c).dispose();
  model.nextLogits([[1]], c).dispose();
  c.dispose();
}

const cache = model.createCache(1);
let t0 = performance.now();
const logits = model.nextLogits(ids, cache);
await logits.data();
logits.dispose();
let s = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ bench: 'prefill', ...common, tokens: L, seconds: +s.toFixed(3), tokens_per_s: +(L / s).toFixed(2) }));

t0 = performance.now();
let next = 1;
for (let i = 0; i < steps; i++) {
  const lg = model.nextLogits([[next]], cache);
  const d = await lg.data();
  lg.dispose();
  next = d.indexOf(Math.max(...d.subarray(0, 1000)));
}
s = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ bench: 'decode', ...common, tokens: steps, seconds: +s.toFixed(3), tokens_per_s: +(steps / s).toFixed(2), state_bytes: cache.memoryBytes() }));
cache.dispose();
model.dispose();
console.log(JSON.stringify({ bench: 'leak-check', live_tensors_after_dispose: liveTensorCount() }));
