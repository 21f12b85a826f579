/**
 * Training throughput of a mamba-130m-sized model (d_model 768, 24 layers, vocab 50280, random
 * weights): forward with labels, backward, gradient clipping and an AdamW update per step, on each
 * device asked for. Prints one JSON line per device (tokens/s over the timed steps, after one
 * warm-up step).
 *   npm run bench:train [-- --device cpu,webgpu --batch 1 --seq 128 --steps 2 --layers 24]
 */
import { parseArgs } from 'node:util';
import { resolveDevice } from '../src/models/auto.js';
import { MambaConfig } from '../src/models/mamba/config.js';
import { initMambaWeights } from '../src/models/mamba/init.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { AdamW, clipGradNorm } from '../src/train/adamw.js';
import '../src/autograd/backward.js';

const { values } = parseArgs({
  options: {
    device: { type: 'string', default: 'cpu' },
    batch: { type: 'string', default: '1' },
    seq: { type: 'string', default: '128' },
    steps: { type: 'string', default: '2' },
    layers: { type: 'string', default: '24' },
  },
});
const [B, L, steps] = [Number(values.batch), Number(values.seq), Number(values.steps)];

for (const name of values.device.split(',')) {
  const device = await resolveDevice(name as 'cpu' | 'webgpu');
  const model = new MambaForCausalLM(MambaConfig.create({ hidden_size: 768, num_hidden_layers: Number(values.layers), vocab_size: 50280, use_bias: false }));
  initMambaWeights(model, 0, device);
  model.requiresGrad_(true);
  const opt = new AdamW(model.namedParameters(), { lr: 1e-4, weightDecay: 0.1 });
  const batch = Array.from({ length: B }, (_, b) => Array.from({ length: L }, (_, i) => (i * 7919 + b * 131) % 50280));
  const step = async (): Promise<number> => {
    const out = await model.forward(batch, { labels: batch });
    const loss = (await out.loss!.data())[0]!;
    out.loss!.backward();
    out.loss!.dispose();
    out.logits.dispose();
    await clipGradNorm(model.namedParameters().map(([, p]) => p), 1);
    opt.update();
    model.zeroGrad();
    return loss;
  };
  await step(); // warm-up: pipelines, JIT
  const t0 = performance.now();
  let loss = 0;
  for (let s = 0; s < steps; s++) loss = await step();
  const seconds = (performance.now() - t0) / 1000;
  console.log(
    JSON.stringify({ bench: 'train', model: 'mamba-130m-shape', params: model.parameterCount(), device, batch: B, seq: L, steps, seconds: +seconds.toFixed(3), tokens_per_s: +((B * L * steps) / seconds).toFixed(1), loss: +loss.toFixed(4) }),
  );
  opt.dispose();
  model.dispose();
}
