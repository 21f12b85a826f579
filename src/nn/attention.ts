/**
 * Causal grouped-query self-attention as Jamba's (HF `JambaAttention`): q/k/v/o projections without
 * bias, no positional encoding at all, scores scaled by 1/sqrt(head_dim), a full causal mask,
 * softmax over the keys in float32.
 *
 * GQA without repeating K and V: the G = heads/kvHeads query heads that share a KV head are
 * stacked along the query axis, so one batched matmul over (batch · kvHeads) serves the group.
 * HF's repeat_kv gives query head h the KV head floor(h / G), i.e. query heads are grouped
 * consecutively per KV head — the (kvHeads, G) split of the head axis below.
 */
import { add, affine, concat, matmul, reshape, scale, softmax, tensor, transpose } from '../ops/index.js';
import { expectShape } from '../ops/check.js';
import type { DeviceName } from '../backend/registry.js';
import type { Tensor } from '../tensor/tensor.js';
import { Linear } from './layers.js';
import { Module } from './module.js';

export interface AttentionDims {
  hiddenSize: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
}

/**
 * (L, Lk) additive mask for L new queries after Lk − L cached keys: 0 where the key's position is at
 * most the query's, a large negative number elsewhere. Finite (not -Infinity) so that no backend
 * has to handle inf − inf; exp of it underflows to exactly 0.
 */
export function causalMask(L: number, device: DeviceName, Lk = L): Tensor {
  const past = Lk - L;
  const m = new Float32Array(L * Lk);
  for (let q = 0; q < L; q++) for (let k = past + q + 1; k < Lk; k++) m[q * Lk + k] = -1e30;
  return tensor(m, [L, Lk], { device });
}

/** Keys and values of the tokens seen so far, (B·kvHeads, T, headDim) each. */
export interface KvCache {
  k: Tensor;
  v: Tensor;
}

export class CausalSelfAttention extends Module {
  readonly q_proj: Linear;
  readonly k_proj: Linear;
  readonly v_proj: Linear;
  readonly o_proj: Linear;

  constructor(readonly dims: AttentionDims) {
    super();
    const { hiddenSize: H, numHeads: nq, numKvHeads: nkv, headDim: hd } = dims;
    this.q_proj = this.child('q_proj', new Linear(H, nq * hd, false));
    this.k_proj = this.child('k_proj', new Linear(H, nkv * hd, false));
    this.v_proj = this.child('v_proj', new Linear(H, nkv * hd, false));
    this.o_proj = this.child('o_proj', new Linear(nq * hd, H, false));
  }

  /**
   * x (B, L, H) → (B, L, H). With `past` (the keys and values of earlier tokens; null at a
   * sequence start) the new tokens also attend to them and the grown cache is returned.
   * `keyMask` (B, Lk), 1 = a real key, 0 = padding (HF's attention_mask over past and new keys):
   * padded keys are not attended to. Callers wrap this in tidy().
   */
  forward(x: Tensor, past?: undefined, keyMask?: Tensor): Tensor;
  forward(x: Tensor, past: KvCache | null, keyMask?: Tensor): { out: Tensor; kv: KvCache };
  forward(x: Tensor, past?: KvCache | null, keyMask?: Tensor): Tensor | { out: Tensor; kv: KvCache } {
    const [B, L] = x.shape as [number, number, number];
    const { numHeads: nq, numKvHeads: nkv, headDim: hd } = this.dims;
    const G = nq / nkv;
    // (B, L, kv, G, hd) → (B, kv, G, L, hd) → (B·kv, G·L, hd): a group's query heads stacked.
    const q = reshape(transpose(reshape(this.q_proj.forward(x), [B, L, nkv, G, hd]), [0, 2, 3, 1, 4]), [B * nkv, G * L, hd]);
    // (B, L, kv, hd) → (B, kv, L, hd) → (B·kv, L, hd)
    const kv = (p: Linear) => reshape(transpose(reshape(p.forward(x), [B, L, nkv, hd]), [0, 2, 1, 3]), [B * nkv, L, hd]);
    const k = past ? concat([past.k, kv(this.k_proj)], 1) : kv(this.k_proj); // (B·kv, Lk, hd)
    const v = past ? concat([past.v, kv(this.v_proj)], 1) : kv(this.v_proj);
    const Lk = k.shape[1]!;
    const scores = scale(matmul(q, k, { transB: true }), 1 / Math.sqrt(hd)); // (B·kv, G·L, Lk)
    // Every stacked head sees the same (L, Lk) mask: view as (B·kv, G, L, Lk) to broadcast it.
    let masked = add(reshape(scores, [B * nkv, G, L, Lk]), causalMask(L, x.device as DeviceName, Lk));
    if (keyMask) {
      expectShape('CausalSelfAttention', 'keyMask (B, Lk)', keyMask, [B, Lk]);
      // 1 → 0, 0 → -1e30, added per sequence to every head and query: (B, 1, 1, 1, Lk).
      const padding = reshape(affine(keyMask, 1e30, -1e30), [B, 1, 1, 1, Lk]);
      masked = reshape(add(reshape(masked, [B, nkv, G, L, Lk]), padding), [B * nkv, G, L, Lk]);
    }
    const probs = reshape(softmax(masked), [B * nkv, G * L, Lk]);
    const ctx = matmul(probs, v); // (B·kv, G·L, hd)
    // back to (B, L, kv, G, hd) = (B, L, heads·hd), head h = kv·G + g as HF's layout
    const merged = reshape(transpose(reshape(ctx, [B, nkv, G, L, hd]), [0, 3, 1, 2, 4]), [B, L, nq * hd]);
    const out = this.o_proj.forward(merged);
    return past === undefined ? out : { out, kv: { k, v } };
  }
}
