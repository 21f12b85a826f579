/**
 * Initialisation of the selective mixers for training from scratch, following mamba_ssm
 * (mamba_simple.py) as src/models/mamba/init.ts does: Linear and conv weights U(±1/√fan_in), conv
 * bias likewise, Linear biases 0; dt_proj.weight U(±R^-½); dt_proj.bias = softplus⁻¹(dt) with dt
 * log-uniform in [1e-3, 1e-1] (floor 1e-4); A_log = log(1..N); D = 1; out_proj scaled by `outScale`
 * (1/√layers, GPT-2's rule for residual stacks).
 */
import type { DeviceName } from '../../backend/registry.js';
import type { Linear } from '../../nn/layers.js';
import type { Parameter } from '../../nn/module.js';
import { filled, RandomSource, randomUniform } from '../../ops/random.js';
import type { SelectiveMixer } from './selective-mixer.js';

export function uniformFanIn(p: Parameter, fanIn: number, rng: RandomSource, device?: DeviceName, scale = 1): void {
  const b = scale / Math.sqrt(fanIn);
  p.set(randomUniform(p.shape, -b, b, rng, { device }));
}

/** PyTorch's nn.Linear default (weight and bias U(±1/√in)) — for the non-Mamba layers. */
export function initLinear(l: Linear, rng: RandomSource, device?: DeviceName): void {
  uniformFanIn(l.weight, l.inFeatures, rng, device);
  if (l.bias) uniformFanIn(l.bias, l.inFeatures, rng, device);
}

export function initSelectiveMixer(m: SelectiveMixer, rng: RandomSource, o: { device?: DeviceName; outScale?: number } = {}): void {
  const device = o.device;
  const zero = (p: Parameter | null) => p?.set(filled(p.shape, 0, { device }));
  const { dModel: D, innerSize: E, dState: N, dConv: K, dtRank: R } = m.dims;
  uniformFanIn(m.in_proj.weight, D, rng, device);
  zero(m.in_proj.bias);
  for (const b of m.branches) {
    if (b.conv1d) uniformFanIn(b.conv1d.weight, K, rng, device);
    if (b.conv1d?.bias) uniformFanIn(b.conv1d.bias, K, rng, device);
    uniformFanIn(b.x_proj.weight, E, rng, device);
    const std = R ** -0.5;
    b.dt_proj.weight.set(randomUniform(b.dt_proj.weight.shape, -std, std, rng, { device }));
    const [lo, hi] = [Math.log(1e-3), Math.log(1e-1)];
    b.dt_proj.bias!.set(
      filled([E], () => {
        const dt = Math.max(Math.exp(lo + (hi - lo) * rng.next()), 1e-4);
        return dt + Math.log(-Math.expm1(-dt)); // inverse softplus
      }, { device }),
    );
    b.A_log.set(filled([E, N], (i) => Math.log((i % N) + 1), { device }));
    b.D.set(filled([E], 1, { device }));
  }
  uniformFanIn(m.out_proj.weight, E, rng, device, o.outScale ?? 1);
  zero(m.out_proj.bias);
}
