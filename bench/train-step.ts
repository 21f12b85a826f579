/**
 * One training step of a mamba-130m-sized model (d_model 768, vocab 50280, random weights), as
 * `npm run bench:train` and `npm run bench` time it: the shared training step (train/train-step.ts:
 * forward with labels, backward, gradient clipping to norm 1 and the AdamW update). `arch` "mamba2"
 * takes mamba2-130m's shape instead (heads of 64, state 128, one group; bench/throughput-models.ts).
 */
import type { DeviceName } from '../src/backend/registry.js';
import { MambaConfig } from '../src/models/mamba/config.js';
import { initMambaWeights } from '../src/models/mamba/init.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { Mamba2Config } from '../src/models/mamba2/config.js';
import { initMamba2Weights } from '../src/models/mamba2/init.js';
import { Mamba2ForCausalLM } from '../src/models/mamba2/modeling.js';
import { mamba2Config } from './throughput-models.js';
import { AdamW } from '../src/train/adamw.js';
import { trainStep } from '../src/train/train-step.js';

export interface TrainBench {
  readonly params: number;
  /** One step on a (batch, seq) window of token ids; resolves to the loss. */
  step(batch: number, seq: number): Promise<number>;
  dispose(): void;
}

export type TrainArch = 'mamba' | 'mamba2';

function buildTrainModel(arch: TrainArch, device: DeviceName, layers: number, seed: number): MambaForCausalLM | Mamba2ForCausalLM {
  if (arch === 'mamba2') {
    const { model_type: _type, ...fields } = mamba2Config('130m').fields;
    const model = new Mamba2ForCausalLM(Mamba2Config.create({ ...fields, num_hidden_layers: layers }));
    initMamba2Weights(model, seed, device);
    return model;
  }
  const model = new MambaForCausalLM(MambaConfig.create({ hidden_size: 768, num_hidden_layers: layers, vocab_size: 50280, use_bias: false }));
  initMambaWeights(model, seed, device);
  return model;
}

export function trainBench(device: DeviceName, layers: number, seed = 0, arch: TrainArch = 'mamba'): TrainBench {
  const model = buildTrainModel(arch, device, layers, seed);
  model.requiresGrad_(true);
  const opt = new AdamW(model.namedParameters(), { lr: 1e-4, weightDecay: 0.1 });
  const params = model.namedParameters().map(([, p]) => p);
  return {
    params: model.parameterCount(),
    async step(B: number, L: number): Promise<number> {
      const ids = Array.from({ length: B }, (_, b) => Array.from({ length: L }, (_, i) => (i * 7919 + b * 131) % 50280));
      const r = await trainStep(opt, params, async () => {
        const out = await model.forward(ids, { labels: ids });
        out.logits.dispose();
        return out.loss!;
      }, { gradClip: 1 });
      return r.loss;
    },
    dispose(): void {
      opt.dispose();
      model.dispose();
    },
  };
}
