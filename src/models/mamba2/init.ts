/**
 * Initialisation for training from scratch, as mamba_ssm's Mamba2 layer and `_init_weights`
 * (the same choices as Mamba-1's init.ts):
 * - in_proj, out_proj and conv1d weights: PyTorch's default, U(±1/√fan_in); their biases zero;
 * - dt_bias = softplus⁻¹(dt), dt log-uniform in [time_step_min, time_step_max], floored;
 * - A_log = log(1..H) across heads (HF's init_mamba2_weights), D = 1;
 * - embeddings N(0, 0.02); norms 1; out_proj scaled by 1/√n_layers (prenorm-residual rule).
 */
import type { DeviceName } from '../../backend/registry.js';
import type { Parameter } from '../../nn/module.js';
import { filled, RandomSource, randomNormal, randomUniform } from '../../ops/random.js';
import type { Mamba2ForCausalLM } from './modeling.js';

export function initMamba2Weights(model: Mamba2ForCausalLM, seed = 0, device?: DeviceName): void {
  const rng = new RandomSource(seed);
  const f = model.config.fields;
  const o = { device };
  const uniformFanIn = (p: Parameter, fanIn: number, scale = 1) => {
    const b = scale / Math.sqrt(fanIn);
    p.set(randomUniform(p.shape, -b, b, rng, o));
  };
  const constant = (p: Parameter | null, v: number) => p?.set(filled(p.shape, v, o));
  model.backbone.embeddings.weight.set(randomNormal(model.backbone.embeddings.weight.shape, 0.02, rng, o));
  const [lo, hi] = [Math.log(f.time_step_min), Math.log(f.time_step_max)];
  for (const layer of model.backbone.layers) {
    const m = layer.mixer;
    constant(layer.norm.weight, 1);
    uniformFanIn(m.in_proj.weight, f.hidden_size);
    constant(m.in_proj.bias, 0);
    uniformFanIn(m.conv1d.weight, f.conv_kernel);
    constant(m.conv1d.bias, 0);
    m.dt_bias.set(
      filled([f.num_heads], () => {
        const dt = Math.max(Math.exp(lo + (hi - lo) * rng.next()), f.time_step_floor);
        return dt + Math.log(-Math.expm1(-dt)); // inverse softplus
      }, o),
    );
    m.A_log.set(filled([f.num_heads], (i) => Math.log(i + 1), o));
    constant(m.D, 1);
    constant(m.norm.weight, 1);
    uniformFanIn(m.out_proj.weight, model.config.intermediateSize, 1 / Math.sqrt(f.num_hidden_layers));
    constant(m.out_proj.bias, 0);
  }
  constant(model.backbone.norm_f.weight, 1);
  if (model.lm_head) uniformFanIn(model.lm_head.weight, f.hidden_size);
}
