import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** ../shared beside the repository (tests run from dist/test/). */
export const SHARED = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared');
export const FIXTURES = resolve(SHARED, 'fixtures');
export function fixture(...parts: string[]): string {
  return resolve(FIXTURES, ...parts);
}

/** Max |a-b| over the arrays, and max |b|: a failing check prints both. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { diff: number; scale: number; at: number } {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let diff = 0;
  let scale = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= diff)) {
      diff = d;
      at = i;
    }
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return { diff, scale, at };
}

/** Asserts |got - want| <= rel * max|want| everywhere (NaN fails), naming the tensor. */
export function assertClose(name: string, got: ArrayLike<number>, want: ArrayLike<number>, rel: number): void {
  const { diff, scale, at } = maxAbsDiff(got, want);
  if (!(diff <= rel * scale)) {
    throw new Error(
      `${name}: max |diff| ${diff.toExponential(3)} at ${at} (got ${got[at]}, want ${want[at]}) > ${rel} × max|ref| ${scale.toExponential(3)}`,
    );
  }
}

/** Deterministic uniform floats in [lo, hi) (mulberry32). */
export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    out[i] = lo + (hi - lo) * u;
  }
  return out;
}
