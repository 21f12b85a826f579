/**
 * Training throughput of a mamba-130m-sized model (d_model 768, 24 layers, vocab 50280, random
 * weights): forward with labels, backward, gradient clipping and an AdamW update per step, on each
 * device asked for. Prints one JSON line per device (tokens/s over the timed steps, after one
 * warm-up step).
 *   npm run bench:train [-- --device cpu,webgpu --batch 1 --seq 128 --steps 2 --layers 24]
 */
import { parseArgs } from 'node:util';
import { resolveDevice } from '../src/models/auto.js';
import { trainBench } from './train-step.js';

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
  const bench = trainBench(device, Number(values.layers));
  await bench.step(B, L); // warm-up: pipelines, JIT
  const t0 = performance.now();
  let loss = 0;
  for (let s = 0; s < steps; s++) loss = await bench.step(B, L);
  const seconds = (performance.now() - t0) / 1000;
  console.log(
    JSON.stringify({ bench: 'train', model: 'mamba-130m-shape', params: bench.params, device, batch: B, seq: L, steps, seconds: +seconds.toFixed(3), tokens_per_s: +((B * L * steps) / seconds).toFixed(1), loss: +loss.toFixed(4) }),
  );
  bench.dispose();
}
