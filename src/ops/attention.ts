/**
 * Causal grouped-query attention (Jamba's, HF `JambaAttention`'s core): per query head h,
 *
 *   out[b, i, h] = Σ_j softmax_j(q[b, i, h] · k[b, h / G, j] / √hd) · v[b, h / G, j]
 *
 * over the keys j visible to query i: j ≤ Lk − Lq + i (the Lq queries are the last Lq of the Lk
 * positions, as after a KV cache) and, with a key mask, mask[b, j] = 1. Softmax in float32.
 *
 * Layouts: q and the output are (B, Lq, H, hd), the q projection's own layout (no transposes);
 * k and v are (B, Hkv, cap, hd), a KV cache's layout (one contiguous run of keys per head), of
 * which keys [0, keyLength) are read. Query head h uses KV head floor(h / G), G = H / Hkv, as
 * HF's repeat_kv.
 *
 * Padding: keyMask (B, Lk) holds 1 for a real token and 0 for padding (other values are not
 * allowed). A query that sees no real key at all (a left-padding position before the first real
 * token) gets an output of exactly 0, and no gradient flows through it.
 *
 * `attentionComposed` is the same function from matmul/softmax; the fused op's backward recomputes
 * the probabilities that way (O(Lq·Lk) memory in the backward only; the forward is fused).
 */
import { ArgumentError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import type { DeviceName } from '../backend/registry.js';
import { expectRank, expectShape, sameBackend } from './check.js';
import { record, saveForBackward, shouldRecord } from '../autograd/tape.js';
import { matmul } from './matmul.js';
import { add, affine, mul, scale, sub } from './elementwise.js';
import { max, softmax, sum } from './reduce.js';
import { concat, reshape, slice, transpose } from './shape.js';
import { tensor, zeros } from './create.js';

export interface AttentionOptions {
  /** Keys [0, keyLength) of k and v are attended to (default: all); the rest is unfilled capacity. */
  keyLength?: number;
  /** (B, keyLength), f32 or i32: 1 = real token, 0 = padding. */
  keyMask?: Tensor | null;
}

interface Dims {
  B: number;
  Lq: number;
  H: number;
  Hkv: number;
  G: number;
  hd: number;
  cap: number;
  Lk: number;
}

function checkAttention(op: string, q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions): Dims {
  sameBackend(op, q, k, v, o.keyMask);
  expectRank(op, 'q (B, Lq, H, hd)', q, 4);
  expectRank(op, 'k (B, Hkv, Lk, hd)', k, 4);
  for (const [name, t] of [['q', q], ['k', k], ['v', v]] as const) {
    if (t.dtype !== 'f32') throw new ArgumentError(`${op}: ${name} must be f32, got ${t.dtype}`);
  }
  const [B, Lq, H, hd] = q.shape as [number, number, number, number];
  expectShape(op, 'k', k, [B, -1, -1, hd]);
  const [, Hkv, cap] = k.shape as [number, number, number, number];
  expectShape(op, 'v', v, k.shape);
  if (Hkv === 0 || H % Hkv !== 0) throw new ArgumentError(`${op}: the ${H} query heads must be a positive multiple of the ${Hkv} KV heads`);
  if (hd === 0) throw new ArgumentError(`${op}: head_dim must be at least 1`);
  const Lk = o.keyLength ?? cap;
  if (!Number.isInteger(Lk) || Lk > cap) throw new ArgumentError(`${op}: keyLength must be an integer at most k's ${cap} positions, got ${Lk}`);
  if (Lq < 1 || Lq > Lk) throw new ArgumentError(`${op}: needs 1 <= Lq <= keyLength (queries are the last Lq key positions), got Lq ${Lq}, keyLength ${Lk}`);
  if (o.keyMask) {
    expectShape(op, 'keyMask (B, keyLength)', o.keyMask, [B, Lk]);
    if (o.keyMask.dtype !== 'f32' && o.keyMask.dtype !== 'i32') throw new ArgumentError(`${op}: keyMask must be f32 or i32, got ${o.keyMask.dtype}`);
  }
  return { B, Lq, H, Hkv, G: H / Hkv, hd, cap, Lk };
}

/**
 * (Lq, Lk) additive mask for Lq new queries after Lk − Lq earlier keys: 0 where the key's position
 * is at most the query's, a large negative number elsewhere. Finite (not -Infinity) so that no
 * backend has to handle inf − inf; exp of it underflows to exactly 0.
 */
export function causalMask(Lq: number, device: DeviceName, Lk = Lq): Tensor {
  const past = Lk - Lq;
  const m = new Float32Array(Lq * Lk);
  for (let q = 0; q < Lq; q++) for (let k = past + q + 1; k < Lk; k++) m[q * Lk + k] = -1e30;
  return tensor(m, [Lq, Lk], { device });
}

/** q (B, Lq, H, hd) → (B·Hkv, G·Lq, hd): a KV head's G query heads stacked (row g·Lq + i). */
function stackQueries(q: Tensor, d: Dims): Tensor {
  return reshape(transpose(reshape(q, [d.B, d.Lq, d.Hkv, d.G, d.hd]), [0, 2, 3, 1, 4]), [d.B * d.Hkv, d.G * d.Lq, d.hd]);
}
function unstackQueries(x: Tensor, d: Dims): Tensor {
  return reshape(transpose(reshape(x, [d.B, d.Hkv, d.G, d.Lq, d.hd]), [0, 3, 1, 2, 4]), [d.B, d.Lq, d.H, d.hd]);
}
/** k or v (B, Hkv, cap, hd) → the filled part as (B·Hkv, Lk, hd). */
function filledKeys(k: Tensor, d: Dims): Tensor {
  return reshape(d.Lk < d.cap ? slice(k, 2, 0, d.Lk) : k, [d.B * d.Hkv, d.Lk, d.hd]);
}

/** The attention probabilities (B·Hkv, G·Lq, Lk), rows without a visible key all zero. */
function attentionProbs(qs: Tensor, ks: Tensor, d: Dims, keyMask: Tensor | null, device: DeviceName): Tensor {
  const scores = reshape(scale(matmul(qs, ks, { transB: true }), 1 / Math.sqrt(d.hd)), [d.B, d.Hkv, d.G, d.Lq, d.Lk]);
  const causal = causalMask(d.Lq, device, d.Lk); // (Lq, Lk)
  if (!keyMask) return reshape(softmax(add(scores, causal)), [d.B * d.Hkv, d.G * d.Lq, d.Lk]);
  const m = reshape(keyMask.dtype === 'f32' ? keyMask : keyMask.backend.cast(keyMask, 'f32'), [d.B, 1, 1, 1, d.Lk]);
  const bias = add(causal, affine(m, 1e30, -1e30)); // (B, 1, 1, Lq, Lk): −1e30 or less where hidden
  // 1 where the query sees at least one real key: max over keys of mask · causal-visibility.
  const valid = reshape(max(mul(m, affine(causal, 1e-30, 1))), [d.B, 1, 1, d.Lq, 1]);
  return reshape(mul(softmax(add(scores, bias)), valid), [d.B * d.Hkv, d.G * d.Lq, d.Lk]);
}

/** The reference composition from matmul/softmax (differentiable through those ops). */
export function attentionComposed(q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions = {}): Tensor {
  const d = checkAttention('attentionComposed', q, k, v, o);
  const p = attentionProbs(stackQueries(q, d), filledKeys(k, d), d, o.keyMask ?? null, q.device as DeviceName);
  return unstackQueries(matmul(p, filledKeys(v, d)), d);
}

/** Fused causal GQA (see the file comment): q (B, Lq, H, hd), k, v (B, Hkv, cap, hd) → (B, Lq, H, hd). */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions = {}): Tensor {
  const op = 'scaledDotProductAttention';
  const d = checkAttention(op, q, k, v, o);
  const mask = o.keyMask ?? null;
  const keyMask = mask && mask.dtype !== 'f32' ? mask.backend.cast(mask, 'f32') : mask;
  const y = q.backend.attention({ q, k, v, keyLength: d.Lk, keyMask });
  if (shouldRecord(q, k, v)) {
    const saved = [q, k, v].map(saveForBackward) as [Tensor, Tensor, Tensor];
    const sm = keyMask ? saveForBackward(keyMask) : null;
    const device = q.device as DeviceName;
    record(op, [q, k, v], [y], ([g]) => {
      const [sq, sk, sv] = saved;
      const qs = stackQueries(sq, d);
      const ks = filledKeys(sk, d);
      const vs = filledKeys(sv, d);
      const p = attentionProbs(qs, ks, d, sm, device); // (B·Hkv, G·Lq, Lk), recomputed
      const gs = stackQueries(g!, d);
      // O = P·V: dV = Pᵀ·dO, dP = dO·Vᵀ; softmax: dS = P ⊙ (dP − Σ_j dP ⊙ P); S = c·Q·Kᵀ.
      const dv = matmul(p, gs, { transA: true });
      const dp = matmul(gs, vs, { transB: true });
      const ds = mul(p, sub(dp, reshape(sum(mul(dp, p)), [d.B * d.Hkv, d.G * d.Lq, 1])));
      const c = 1 / Math.sqrt(d.hd);
      const dq = unstackQueries(scale(matmul(ds, ks), c), d);
      const dk = scale(matmul(ds, qs, { transA: true }), c);
      // Unfilled capacity gets zero gradient.
      const full = (t: Tensor) => {
        const r = reshape(t, [d.B, d.Hkv, d.Lk, d.hd]);
        return d.Lk < d.cap ? concat([r, zeros([d.B, d.Hkv, d.cap - d.Lk, d.hd], { device })], 2) : r;
      };
      return [dq, full(dk), full(dv)];
    }, sm ? [...saved, sm] : saved);
  }
  if (keyMask && keyMask !== mask) keyMask.dispose();
  return y;
}
