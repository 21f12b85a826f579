/**
 * Training throughput, on each device asked for; one JSON line per measurement (tokens/s over the
 * timed steps, after warm-up steps).
 *
 * Default: a mamba-130m-sized model (d_model 768, 24 layers, vocab 50280, random weights): forward
 * with labels, backward, gradient clipping and an AdamW update per step.
 *   npm run bench:train [-- --device cpu,webgpu --batch 1 --seq 128 --steps 2 --layers 24 --model mamba|mamba2]
 *
 * --tiny: the synthetic tasks' model (2 layers, d_model 64, vocab 16) on Selective Copying at the
 * paper's length 4128 (4096 + 16 data + 16 markers) and batch 64, by the ordinary step and by the
 * recorded and replayed one (train/replayed-step.ts), one line each.
 *   npm run bench:train -- --tiny [--device webgpu --batch 64 --seq 4128 --steps 5]
 */
import { parseArgs } from 'node:util';
import { resolveDevice } from '../src/models/auto.js';
import { trainBench } from './train-step.js';
import { TINY, tinyTrainBench } from './train-tiny.js';

const { values } = parseArgs({
  options: {
    device: { type: 'string', default: 'cpu' },
    batch: { type: 'string' },
    seq: { type: 'string' },
    steps: { type: 'string' },
    layers: { type: 'string', default: '24' },
    model: { type: 'string', default: 'mamba' },
    tiny: { type: 'boolean', default: false },
  },
});
const tiny = values.tiny;
const [B, L, steps] = [Number(values.batch ?? (tiny ? 64 : 1)), Number(values.seq ?? (tiny ? 4128 : 128)), Number(values.steps ?? (tiny ? 5 : 2))];
for (const [name, v] of [['batch', B], ['seq', L], ['steps', steps]] as const) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`bench:train: --${name} must be an integer >= 1, got ${v}`);
}

const line = (o: Record<string, unknown>) => console.log(JSON.stringify(o));

for (const name of values.device.split(',')) {
  const device = await resolveDevice(name as 'cpu' | 'webgpu');
  if (tiny) {
    for (const mode of ['ordinary', 'replayed'] as const) {
      const bench = tinyTrainBench(device, mode, B, L);
      // Warm-up: pipelines and JIT; the replayed step runs once as usual and is recorded on the second.
      for (let s = 0; s < 2; s++) await bench.step();
      const t0 = performance.now();
      let loss = 0;
      for (let s = 0; s < steps; s++) loss = await bench.step();
      const seconds = (performance.now() - t0) / 1000;
      const tokensPerS = (B * L * steps) / seconds;
      line({
        bench: 'train-tiny', mode, device, model: `mamba ${TINY.layers} layers d ${TINY.hidden} vocab ${TINY.vocab}`, params: bench.params, batch: B, seq: L, steps,
        replayed: bench.replayed, seconds: +seconds.toFixed(3), step_ms: +((seconds * 1000) / steps).toFixed(2), tokens_per_s: +tokensPerS.toFixed(1),
        // The paper's Selective Copying run: 400k steps of this batch and length.
        hours_for_400k_steps: +((400_000 * B * L) / tokensPerS / 3600).toFixed(1), loss: +loss.toFixed(4),
      });
      bench.dispose();
    }
    continue;
  }
  const arch = values.model;
  if (arch !== 'mamba' && arch !== 'mamba2') throw new Error(`bench:train: --model must be mamba or mamba2, got ${JSON.stringify(arch)}`);
  const bench = trainBench(device, Number(values.layers), 0, arch);
  await bench.step(B, L); // warm-up: pipelines, JIT
  const t0 = performance.now();
  let loss = 0;
  for (let s = 0; s < steps; s++) loss = await bench.step(B, L);
  const seconds = (performance.now() - t0) / 1000;
  line({ bench: 'train', model: `${arch}-130m-shape`, params: bench.params, device, batch: B, seq: L, steps, seconds: +seconds.toFixed(3), tokens_per_s: +((B * L * steps) / seconds).toFixed(1), loss: +loss.toFixed(4) });
  bench.dispose();
}
