/**
 * Causal grouped-query attention, the readable reference (see ops/attention.ts for the contract):
 * for each query row, scores against the visible keys, a two-pass softmax in float64, the weighted
 * sum of the values. A query with no visible key (all masked as padding) gets zeros.
 *
 * q (B, Lq, H, hd); k, v (B, Hkv, cap, hd) of which keys [0, Lk) are used; mask (B, Lk) or null;
 * out (B, Lq, H, hd). Query i sits at position Lk − Lq + i; head h reads KV head floor(h / G).
 */
export interface AttentionDimsCpu {
  B: number;
  Lq: number;
  H: number;
  Hkv: number;
  hd: number;
  cap: number;
  Lk: number;
}

export function attentionKernel(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  mask: Float32Array | null,
  dims: AttentionDimsCpu,
  out: Float32Array,
): void {
  const { B, Lq, H, Hkv, hd, cap, Lk } = dims;
  const G = H / Hkv;
  const past = Lk - Lq;
  const scale = 1 / Math.sqrt(hd);
  const s = new Float64Array(Lk);
  const acc = new Float64Array(hd);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < Lq; i++) {
      const visible = past + i + 1; // keys [0, visible) are at or before the query
      for (let h = 0; h < H; h++) {
        const qo = ((b * Lq + i) * H + h) * hd;
        const kvo = (b * Hkv + Math.floor(h / G)) * cap * hd;
        let m = -Infinity;
        for (let j = 0; j < visible; j++) {
          if (mask && mask[b * Lk + j] === 0) {
            s[j] = -Infinity;
            continue;
          }
          let dot = 0;
          for (let d = 0; d < hd; d++) dot += q[qo + d]! * k[kvo + j * hd + d]!;
          s[j] = dot * scale;
          if (s[j]! > m) m = s[j]!;
        }
        acc.fill(0);
        let l = 0;
        if (m !== -Infinity) {
          for (let j = 0; j < visible; j++) {
            if (s[j] === -Infinity) continue;
            const p = Math.exp(s[j]! - m);
            l += p;
            for (let d = 0; d < hd; d++) acc[d] += p * v[kvo + j * hd + d]!;
          }
        }
        for (let d = 0; d < hd; d++) out[qo + d] = l > 0 ? acc[d]! / l : 0;
      }
    }
  }
}
