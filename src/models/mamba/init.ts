/**
 * Initialisation for training from scratch, following mamba_ssm (mamba_simple.py and
 * mixer_seq_simple.py `_init_weights`), which the reference notes recommend over HF's:
 * - Linear and Conv1d weights: PyTorch's default, U(±1/√fan_in); Linear biases zero;
 * - dt_proj.weight U(±R^-½·scale); dt_proj.bias = softplus⁻¹(dt), dt log-uniform in [dt_min, dt_max];
 * - A_log = log(1..N) per channel (S4D-real), D = 1;
 * - embeddings N(0, 0.02); norms 1;
 * - out_proj rescaled by 1/√n_layers (GPT-2's prenorm-residual rule).
 */
import type { DeviceName } from '../../backend/registry.js';
import type { Parameter } from '../../nn/module.js';
import { filled, RandomSource, randomNormal, randomUniform } from '../../ops/random.js';
import type { MambaForCausalLM } from './modeling.js';
import type { MambaMixer } from '../../nn/mamba-mixer.js';

/** The dt initialisation of mamba_ssm (HF MambaConfig's time_step_* fields). */
export interface DtInit {
  scale: number;
  scheme: 'random' | 'constant';
  min: number;
  max: number;
  floor: number;
}

export const MAMBA_SSM_DT_INIT: DtInit = { scale: 1, scheme: 'random', min: 0.001, max: 0.1, floor: 1e-4 };

/**
 * One mixer's parameters as mamba_ssm initialises them; `layers` scales out_proj by 1/√layers.
 * Inner norms (Jamba's) start at 1.
 */
export function initMambaMixerWeights(m: MambaMixer, dt: DtInit, layers: number, rng: RandomSource, device?: DeviceName): void {
  const o = { device };
  const { hiddenSize: H, intermediateSize: E, stateSize: N, convKernel: K, dtRank: R } = m.dims;
  const uniformFanIn = (p: Parameter, fanIn: number, scale = 1) => {
    const b = scale / Math.sqrt(fanIn);
    p.set(randomUniform(p.shape, -b, b, rng, o));
  };
  const zero = (p: Parameter | null) => p?.set(filled(p.shape, 0, o));
  uniformFanIn(m.in_proj.weight, H);
  zero(m.in_proj.bias);
  uniformFanIn(m.conv1d.weight, K);
  if (m.conv1d.bias) uniformFanIn(m.conv1d.bias, K);
  uniformFanIn(m.x_proj.weight, E);
  const std = R ** -0.5 * dt.scale;
  m.dt_proj.weight.set(dt.scheme === 'constant' ? filled(m.dt_proj.weight.shape, std, o) : randomUniform(m.dt_proj.weight.shape, -std, std, rng, o));
  const lo = Math.log(dt.min);
  const hi = Math.log(dt.max);
  m.dt_proj.bias!.set(
    filled([E], () => {
      const v = Math.max(Math.exp(lo + (hi - lo) * rng.next()), dt.floor);
      return v + Math.log(-Math.expm1(-v)); // inverse softplus
    }, o),
  );
  m.A_log.set(filled(m.A_log.shape, (i) => Math.log((i % N) + 1), o));
  m.D.set(filled(m.D.shape, 1, o));
  uniformFanIn(m.out_proj.weight, E, 1 / Math.sqrt(layers));
  zero(m.out_proj.bias);
  if (m.innerNorms) for (const norm of [m.innerNorms.dt, m.innerNorms.b, m.innerNorms.c]) norm.weight.set(filled(norm.weight.shape, 1, o));
}

export function initMambaWeights(model: MambaForCausalLM, seed = 0, device?: DeviceName): void {
  const rng = new RandomSource(seed);
  const f = model.config.fields;
  const o = { device };
  const dt: DtInit = { scale: f.time_step_scale, scheme: f.time_step_init_scheme === 'constant' ? 'constant' : 'random', min: f.time_step_min, max: f.time_step_max, floor: f.time_step_floor };
  model.backbone.embeddings.weight.set(randomNormal(model.backbone.embeddings.weight.shape, 0.02, rng, o));
  for (const layer of model.backbone.layers) {
    layer.norm.weight.set(filled([f.hidden_size], 1, o));
    initMambaMixerWeights(layer.mixer, dt, f.num_hidden_layers, rng, device);
  }
  model.backbone.norm_f.weight.set(filled([f.hidden_size], 1, o));
  if (model.lm_head) {
    const b = 1 / Math.sqrt(f.hidden_size);
    model.lm_head.weight.set(randomUniform(model.lm_head.weight.shape, -b, b, rng, o));
  }
}
