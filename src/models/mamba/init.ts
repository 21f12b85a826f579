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

export function initMambaWeights(model: MambaForCausalLM, seed = 0, device?: DeviceName): void {
  const rng = new RandomSource(seed);
  const f = model.config.fields;
  const o = { device };
  const uniformFanIn = (p: Parameter, fanIn: number, scale = 1) => {
    const b = scale / Math.sqrt(fanIn);
    p.set(randomUniform(p.shape, -b, b, rng, o));
  };
  const zero = (p: Parameter | null) => p?.set(filled(p.shape, 0, o));
  const N = f.state_size;
  model.backbone.embeddings.weight.set(randomNormal(model.backbone.embeddings.weight.shape, 0.02, rng, o));
  for (const layer of model.backbone.layers) {
    const m = layer.mixer;
    layer.norm.weight.set(filled([f.hidden_size], 1, o));
    uniformFanIn(m.in_proj.weight, f.hidden_size);
    zero(m.in_proj.bias);
    uniformFanIn(m.conv1d.weight, f.conv_kernel);
    if (m.conv1d.bias) uniformFanIn(m.conv1d.bias, f.conv_kernel);
    uniformFanIn(m.x_proj.weight, f.intermediate_size);
    const std = f.time_step_rank ** -0.5 * f.time_step_scale;
    m.dt_proj.weight.set(
      f.time_step_init_scheme === 'constant' ? filled(m.dt_proj.weight.shape, std, o) : randomUniform(m.dt_proj.weight.shape, -std, std, rng, o),
    );
    const lo = Math.log(f.time_step_min);
    const hi = Math.log(f.time_step_max);
    m.dt_proj.bias!.set(
      filled([f.intermediate_size], () => {
        const dt = Math.max(Math.exp(lo + (hi - lo) * rng.next()), f.time_step_floor);
        return dt + Math.log(-Math.expm1(-dt)); // inverse softplus
      }, o),
    );
    m.A_log.set(filled(m.A_log.shape, (i) => Math.log((i % N) + 1), o));
    m.D.set(filled(m.D.shape, 1, o));
    uniformFanIn(m.out_proj.weight, f.intermediate_size, 1 / Math.sqrt(f.num_hidden_layers));
    zero(m.out_proj.bias);
  }
  model.backbone.norm_f.weight.set(filled([f.hidden_size], 1, o));
  if (model.lm_head) uniformFanIn(model.lm_head.weight, f.hidden_size);
}
