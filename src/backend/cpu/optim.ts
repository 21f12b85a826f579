/**
 * Optimizer kernels, in place over whole parameters: one pass per parameter instead of the dozen
 * elementwise ops (and a dozen full-size temporaries) that AdamW's formula takes as separate ops.
 *
 * adamwKernel rounds every intermediate to float32 where the composite update (train/adamw.ts,
 * one op per term) stores one, with the same constants in double precision, so both give the same
 * bits (up to the sign of a zero moment on the first step).
 */
import type { AdamWScalars } from '../backend.js';

const fr = Math.fround;

/** p, m, v updated in place from g (all of one length). */
export function adamwKernel(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, h: AdamWScalars): void {
  const { lr, beta1, beta2, eps, decayFactor } = h;
  const ob1 = 1 - beta1;
  const ob2 = 1 - beta2;
  const ic1 = 1 / h.correction1;
  const ic2 = 1 / h.correction2;
  const decay = decayFactor !== 1;
  // Each line is one op of the composite update; `+ 0` is affine's `a·x + b` with b = 0.
  for (let i = 0; i < p.length; i++) {
    const gi = g[i]!;
    const mi = fr(fr(beta1 * m[i]! + 0) + fr(ob1 * gi + 0));
    const vi = fr(fr(beta2 * v[i]! + 0) + fr(ob2 * fr(gi * gi) + 0));
    const den = fr(fr(Math.sqrt(fr(vi * ic2 + 0))) + eps);
    const dir = fr(fr(mi * ic1 + 0) / den);
    const pi = decay ? fr(decayFactor * p[i]! + 0) : p[i]!;
    p[i] = pi - fr(lr * dir + 0);
    m[i] = mi;
    v[i] = vi;
  }
}

/** Σ x², accumulated in double precision. */
export function sumOfSquares(x: Float32Array): number {
  let s0 = 0;
  let s1 = 0;
  const n = x.length;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    s0 += x[i]! * x[i]!;
    s1 += x[i + 1]! * x[i + 1]!;
  }
  if (i < n) s0 += x[i]! * x[i]!;
  return s0 + s1;
}

/** x ← a·x. */
export function scaleInPlace(x: Float32Array, a: number): void {
  for (let i = 0; i < x.length; i++) x[i] = a * x[i]!;
}
