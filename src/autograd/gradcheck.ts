/**
 * Finite-difference gradient checks: the gradient backward() computes for f at x against central
 * differences (f(x + h·e_i) − f(x − h·e_i)) / 2h, on every element (small inputs only).
 */
import { tensor } from '../ops/create.js';
import { mul, sum as sumOp } from '../ops/index.js';
import { reshape } from '../ops/shape.js';
import { tidy } from '../tensor/memory.js';
import type { Tensor } from '../tensor/tensor.js';
import type { DeviceName } from '../backend/registry.js';
import { backward } from './backward.js';
import { markLeaf, noGrad, type GradSlot } from './tape.js';

export interface GradcheckResult {
  /** Max |analytic − numeric| over all inputs and elements. */
  maxError: number;
  /** Max |numeric| (the scale errors are judged against). */
  scale: number;
  worst: string;
}

/**
 * Checks `f` (inputs → any tensor) by reducing its output to a scalar with fixed random weights,
 * so that every output element's gradient is exercised.
 */
export async function gradcheck(
  f: (...xs: Tensor[]) => Tensor,
  inputs: { data: Float32Array; shape: number[] }[],
  o: { h?: number; device?: DeviceName; seed?: number } = {},
): Promise<GradcheckResult> {
  const h = o.h ?? 1e-2;
  const device = o.device ?? 'cpu';
  const probeOut = noGrad(() => tidy(() => f(...inputs.map((i) => tensor(i.data, i.shape, { device })))));
  const outShape = probeOut.shape;
  probeOut.dispose();
  let s = o.seed ?? 1;
  const weights = new Float32Array(outShape.reduce((p, q) => p * q, 1)).map(() => {
    s = (s * 1103515245 + 12345) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  });
  const objective = (xs: Tensor[]) => {
    const y = f(...xs);
    const w = tensor(weights, y.shape, { device });
    return sumOp(reshape(mul(y, w), [1, y.size]));
  };
  // Analytic gradients.
  const slots: GradSlot[] = inputs.map(() => ({ grad: null }));
  const xs = inputs.map((i, k) => {
    const t = tensor(i.data, i.shape, { device });
    markLeaf(t, slots[k]!);
    return t;
  });
  const loss = tidy(() => objective(xs));
  backward(loss);
  loss.dispose();
  const analytic = await Promise.all(slots.map(async (sl) => (sl.grad ? ((await sl.grad.data()) as Float32Array) : null)));
  slots.forEach((sl) => sl.grad?.dispose());
  xs.forEach((x) => x.dispose());
  // Numeric gradients.
  const value = async (k: number, idx: number, delta: number): Promise<number> => {
    const d = Float32Array.from(inputs[k]!.data);
    d[idx] = d[idx]! + delta;
    const out = noGrad(() => tidy(() => objective(inputs.map((inp, j) => tensor(j === k ? d : inp.data, inp.shape, { device })))));
    const v = (await out.data())[0]!;
    out.dispose();
    return v;
  };
  let maxError = 0;
  let scale = 0;
  let worst = '';
  for (let k = 0; k < inputs.length; k++) {
    for (let idx = 0; idx < inputs[k]!.data.length; idx++) {
      const numeric = ((await value(k, idx, h)) - (await value(k, idx, -h))) / (2 * h);
      const a = analytic[k] ? analytic[k]![idx]! : 0;
      scale = Math.max(scale, Math.abs(numeric));
      const err = Math.abs(a - numeric);
      if (err > maxError) {
        maxError = err;
        worst = `input ${k}[${idx}]: analytic ${a}, numeric ${numeric}`;
      }
    }
  }
  return { maxError, scale, worst };
}
