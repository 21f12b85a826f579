/**
 * Finite-difference checks of a module's parameter gradients (src/autograd/gradcheck.ts checks the
 * inputs of a function; parameters live in the module): the objective Σ w·f() with fixed random w,
 * its gradient from backward() against central differences on a few elements of every parameter.
 */
import { backward } from '../src/autograd/backward.js';
import { noGrad } from '../src/autograd/tape.js';
import type { Module } from '../src/nn/module.js';
import { mul, reshape, sum, tensor } from '../src/ops/index.js';
import { tidy } from '../src/tensor/memory.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { randomArray } from './helpers.js';

export async function paramGradcheck(
  m: Module,
  f: () => Tensor,
  o: { perParam?: number; h?: number } = {},
): Promise<{ maxError: number; scale: number; worst: string; checked: number }> {
  const h = o.h ?? 1e-2;
  const perParam = o.perParam ?? 4;
  const probe = noGrad(() => f());
  const w = randomArray(probe.size, 7);
  const device = probe.device as 'cpu' | 'webgpu';
  probe.dispose();
  const objective = () => tidy(() => { const y = f(); return sum(reshape(mul(y, tensor(w, y.shape, { device })), [1, y.size])); });
  m.requiresGrad_(true);
  const loss = objective();
  backward(loss);
  loss.dispose();
  const params = m.namedParameters();
  const analytic = new Map<string, Float32Array>();
  for (const [name, p] of params) analytic.set(name, p.grad ? ((await p.grad.data()) as Float32Array) : new Float32Array(p.value.size));
  m.zeroGrad();
  m.requiresGrad_(false);
  let maxError = 0;
  let scale = 0;
  let worst = '';
  let checked = 0;
  for (const [name, p] of params) {
    const base = Float32Array.from((await p.value.data()) as Float32Array);
    const picks = new Set(Array.from({ length: Math.min(perParam, base.length) }, (_, i) => Math.floor((i * base.length) / Math.min(perParam, base.length) + (i * 7) % Math.max(1, Math.floor(base.length / perParam)))));
    for (const idx of picks) {
      const at = async (delta: number) => {
        const d = Float32Array.from(base);
        d[idx] = d[idx]! + delta;
        p.set(tensor(d, p.shape, { device }));
        const l = noGrad(objective);
        const v = (await l.data())[0]!;
        l.dispose();
        return v;
      };
      const numeric = ((await at(h)) - (await at(-h))) / (2 * h);
      const a = analytic.get(name)![idx]!;
      scale = Math.max(scale, Math.abs(numeric));
      const err = Math.abs(a - numeric);
      checked++;
      if (err > maxError) {
        maxError = err;
        worst = `${name}[${idx}]: analytic ${a}, numeric ${numeric}`;
      }
    }
    p.set(tensor(base, p.shape, { device }));
  }
  return { maxError, scale, worst, checked };
}
