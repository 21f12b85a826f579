/**
 * Plain-loop references for the MambaMixer's selective mixer (written from the equations in
 * src/models/mambamixer/selective-mixer.ts, not from any backend), in float64.
 */
const silu = (v: number) => v / (1 + Math.exp(-v));
const softplus = (v: number) => (v > 20 ? v : Math.log1p(Math.exp(v)));

/** x (rows, inF) · W(outF, inF)ᵀ + b. */
export function linearRef(x: ArrayLike<number>, rows: number, W: ArrayLike<number>, outF: number, b: ArrayLike<number> | null = null): Float64Array {
  const inF = W.length / outF;
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < outF; o++) {
      let s = b ? b[o]! : 0;
      for (let i = 0; i < inF; i++) s += x[r * inF + i]! * W[o * inF + i]!;
      y[r * outF + o] = s;
    }
  return y;
}

export interface BranchRef {
  convW: ArrayLike<number>; // (E, K)
  convB: ArrayLike<number>; // (E)
  xProj: ArrayLike<number>; // (R + 2N, E)
  dtProjW: ArrayLike<number>; // (E, R)
  dtProjB: ArrayLike<number>; // (E)
  Alog: ArrayLike<number>; // (E, N)
  D: ArrayLike<number>; // (E)
}

/** One branch on xs (B, T, E): silu(causal conv), then the sequential S6 recurrence. */
export function branchRef(xs: Float64Array, B: number, T: number, E: number, N: number, R: number, K: number, p: BranchRef): Float64Array {
  const u = new Float64Array(B * T * E);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++)
      for (let e = 0; e < E; e++) {
        let s = p.convB[e]!;
        for (let k = 0; k < K; k++) {
          const tt = t - (K - 1) + k;
          if (tt >= 0) s += p.convW[e * K + k]! * xs[(b * T + tt) * E + e]!;
        }
        u[(b * T + t) * E + e] = silu(s);
      }
  const sel = linearRef(u, B * T, p.xProj, R + 2 * N); // (B·T, R+2N)
  const y = new Float64Array(B * T * E);
  for (let b = 0; b < B; b++) {
    const h = new Float64Array(E * N);
    for (let t = 0; t < T; t++) {
      const row = sel.subarray((b * T + t) * (R + 2 * N), (b * T + t + 1) * (R + 2 * N));
      for (let e = 0; e < E; e++) {
        let dt = p.dtProjB[e]!;
        for (let r = 0; r < R; r++) dt += p.dtProjW[e * R + r]! * row[r]!;
        dt = softplus(dt);
        const ue = u[(b * T + t) * E + e]!;
        let out = p.D[e]! * ue;
        for (let n = 0; n < N; n++) {
          const A = -Math.exp(p.Alog[e * N + n]!);
          h[e * N + n] = Math.exp(dt * A) * h[e * N + n]! + dt * row[R + n]! * ue;
          out += h[e * N + n]! * row[R + N + n]!;
        }
        y[(b * T + t) * E + e] = out;
      }
    }
  }
  return y;
}

function flipT(x: Float64Array, B: number, T: number, E: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) y.set(x.subarray((b * T + T - 1 - t) * E, (b * T + T - t) * E), (b * T + t) * E);
  return y;
}

/** The whole mixer on x (B, T, D): scans 'f' (forward) and 'b' (flipped), summed, gated, projected. */
export function mixerRef(
  x: ArrayLike<number>,
  B: number,
  T: number,
  D: number,
  dims: { E: number; N: number; R: number; K: number },
  p: { inProj: ArrayLike<number>; outProj: ArrayLike<number>; branches: BranchRef[] },
  scans: ('f' | 'b')[],
): Float64Array {
  const { E, N, R, K } = dims;
  const xz = linearRef(x, B * T, p.inProj, 2 * E);
  const xs = new Float64Array(B * T * E);
  const z = new Float64Array(B * T * E);
  for (let r = 0; r < B * T; r++) {
    xs.set(xz.subarray(r * 2 * E, r * 2 * E + E), r * E);
    z.set(xz.subarray(r * 2 * E + E, (r + 1) * 2 * E), r * E);
  }
  const y = new Float64Array(B * T * E);
  scans.forEach((s, k) => {
    const yk = s === 'f' ? branchRef(xs, B, T, E, N, R, K, p.branches[k]!) : flipT(branchRef(flipT(xs, B, T, E), B, T, E, N, R, K, p.branches[k]!), B, T, E);
    for (let i = 0; i < y.length; i++) y[i] = y[i]! + yk[i]!;
  });
  for (let i = 0; i < y.length; i++) y[i] = y[i]! * silu(z[i]!);
  return linearRef(y, B * T, p.outProj, D);
}
