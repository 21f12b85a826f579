/** Reductions over the last axis of rows of length `n`. */

export function sumRows(x: Float32Array, n: number, out: Float32Array): void {
  for (let r = 0; r < out.length; r++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += x[r * n + i]!;
    out[r] = s;
  }
}

export function maxRows(x: Float32Array, n: number, out: Float32Array): void {
  for (let r = 0; r < out.length; r++) {
    let m = -Infinity;
    for (let i = 0; i < n; i++) m = Math.max(m, x[r * n + i]!);
    out[r] = m;
  }
}

export function softmaxRows(x: Float32Array, n: number, out: Float32Array): void {
  for (let r = 0; r < x.length / n; r++) {
    const o = r * n;
    let m = -Infinity;
    for (let i = 0; i < n; i++) m = Math.max(m, x[o + i]!);
    let s = 0;
    for (let i = 0; i < n; i++) {
      const e = Math.exp(x[o + i]! - m);
      out[o + i] = e;
      s += e;
    }
    for (let i = 0; i < n; i++) out[o + i] = out[o + i]! / s;
  }
}

/** Index of the first maximum; NaN never wins. */
export function argmaxRows(x: Float32Array, n: number, out: Int32Array): void {
  for (let r = 0; r < out.length; r++) {
    let best = 0;
    let bv = -Infinity;
    for (let i = 0; i < n; i++) {
      const v = x[r * n + i]!;
      if (v > bv) {
        bv = v;
        best = i;
      }
    }
    out[r] = best;
  }
}

/** The k largest per row, descending; ties keep the lower index first. */
export function topKRows(x: Float32Array, n: number, k: number, values: Float32Array, indices: Int32Array): void {
  const rows = x.length / n;
  const idx = new Int32Array(n);
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    for (let i = 0; i < n; i++) idx[i] = i;
    const sorted = Array.from(idx).sort((p, q) => {
      const d = x[o + q]! - x[o + p]!;
      return d !== 0 && !Number.isNaN(d) ? d : p - q;
    });
    for (let j = 0; j < k; j++) {
      indices[r * k + j] = sorted[j]!;
      values[r * k + j] = x[o + sorted[j]!]!;
    }
  }
}
