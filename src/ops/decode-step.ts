/**
 * Ops of a replayable decode step (models/kv-decode-stepper.ts): attention and KV-cache writes
 * whose position is read on the device, and a sparse MoE routed on the device. A replayed step
 * launches the same work with the same uniforms every token, so what changes from token to token
 * (the position, the chosen experts) must live in device buffers. Inference only (no backward);
 * each returns null, or is absent, where the backend has no such kernel (the CPU today).
 */
import type { MoeStepInputs } from '../backend/backend.js';
import { ArgumentError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { noBackwardYet } from '../autograd/tape.js';
import { expectRank, expectShape, sameBackend } from './check.js';

function checkLength(op: string, length: Tensor): void {
  if (length.dtype !== 'i32' || length.size !== 1) throw new ArgumentError(`${op}: length must be an int32 tensor of one element, got ${length.dtype} of ${length.size}`);
}

/**
 * True where `t`'s backend has the device-positioned attention ops (attentionAt, appendKvAt) for
 * this many rows, query heads, KV heads and head size.
 */
export function attentionAtFits(t: Tensor, batch: number, heads: number, kvHeads: number, headDim: number): boolean {
  const b = t.backend;
  return !!b.attentionAt && !!b.appendKvAt && (b.attentionAtFits?.(batch, heads, kvHeads, headDim) ?? false);
}

/**
 * Writes one token's keys and values k, v (B, Hkv, 1, hd) into kCache, vCache (B, Hkv, cap, hd)
 * at position length[0] (int32 (1); it must be below cap, which the caller guarantees by growing
 * the cache ahead).
 */
export function appendKvAt(kCache: Tensor, vCache: Tensor, k: Tensor, v: Tensor, length: Tensor): void {
  const op = 'appendKvAt';
  sameBackend(op, kCache, vCache, k, v, length);
  expectRank(op, 'kCache (B, Hkv, cap, hd)', kCache, 4);
  const [B, Hkv, , hd] = kCache.shape as [number, number, number, number];
  expectShape(op, 'vCache', vCache, kCache.shape);
  expectShape(op, 'k', k, [B, Hkv, 1, hd]);
  expectShape(op, 'v', v, [B, Hkv, 1, hd]);
  checkLength(op, length);
  noBackwardYet(op, k, v);
  if (!kCache.backend.appendKvAt) throw new ArgumentError(`${op}: the ${kCache.device} backend has no device-positioned KV writes`);
  kCache.backend.appendKvAt(kCache, vCache, k, v, length);
}

/**
 * Causal GQA for one new query per row, q (B, 1, H, hd), over the keys [0, length[0] + 1) of k, v
 * (B, Hkv, cap, hd) — the cached ones and this step's, written by appendKvAt. keyMask (B, cap) f32:
 * 1 = a real token, 0 = padding. Same numbers as scaledDotProductAttention with keyLength =
 * length[0] + 1 on the same cache.
 */
export function attentionAt(q: Tensor, k: Tensor, v: Tensor, length: Tensor, keyMask: Tensor | null): Tensor {
  const op = 'attentionAt';
  sameBackend(op, q, k, v, length, keyMask);
  expectRank(op, 'q (B, 1, H, hd)', q, 4);
  expectRank(op, 'k (B, Hkv, cap, hd)', k, 4);
  const [B, , H, hd] = q.shape as [number, number, number, number];
  expectShape(op, 'q', q, [B, 1, H, hd]);
  expectShape(op, 'k', k, [B, -1, -1, hd]);
  expectShape(op, 'v', v, k.shape);
  const [, Hkv, cap] = k.shape as [number, number, number, number];
  if (Hkv === 0 || H % Hkv !== 0) throw new ArgumentError(`${op}: the ${H} query heads must be a positive multiple of the ${Hkv} KV heads`);
  if (keyMask) {
    expectShape(op, 'keyMask (B, cap)', keyMask, [B, cap]);
    if (keyMask.dtype !== 'f32') throw new ArgumentError(`${op}: keyMask must be f32, got ${keyMask.dtype}`);
  }
  checkLength(op, length);
  noBackwardYet(op, q, k, v);
  if (!q.backend.attentionAt) throw new ArgumentError(`${op}: the ${q.device} backend has no device-positioned attention`);
  return q.backend.attentionAt({ q, k, v, length, keyMask });
}

/**
 * The tensors xs (same shape and dtype; bf16/f16 weights too) stacked along a new first axis, as
 * one new tensor; null where the backend cannot (no such op, or the stack would not fit one buffer).
 */
export function stackWeights(xs: readonly Tensor[]): Tensor | null {
  if (xs.length === 0) throw new ArgumentError('stackWeights: no tensors given');
  sameBackend('stackWeights', ...xs);
  const first = xs[0]!;
  xs.forEach((x, i) => {
    if (x.dtype !== first.dtype) throw new ArgumentError(`stackWeights: xs[${i}] is ${x.dtype}, xs[0] ${first.dtype}`);
    expectShape('stackWeights', `xs[${i}]`, x, first.shape);
  });
  return first.backend.stack?.(xs) ?? null;
}

/**
 * A sparse MoE feed-forward for a few tokens routed on the device (see MoeStepInputs): residual +
 * Σ_j weights[:, j] · expert_{indices[:, j]}(x). Null where the backend has no such kernel or
 * does not take these inputs (too many token slots).
 */
export function moeStep(i: MoeStepInputs): Tensor | null {
  const op = 'moeStep';
  sameBackend(op, i.x, i.residual, i.indices, i.weights, i.gate, i.up, i.down);
  expectRank(op, 'x (T, H)', i.x, 2);
  const [T, H] = i.x.shape as [number, number];
  expectShape(op, 'residual', i.residual, [T, H]);
  expectRank(op, 'indices (T, k)', i.indices, 2);
  const k = i.indices.shape[1]!;
  expectShape(op, 'indices', i.indices, [T, k]);
  expectShape(op, 'weights', i.weights, [T, k]);
  if (i.indices.dtype !== 'i32') throw new ArgumentError(`${op}: indices must be int32, got ${i.indices.dtype}`);
  expectRank(op, 'gate (n, F, H)', i.gate, 3);
  const [n, F] = i.gate.shape as [number, number, number];
  expectShape(op, 'gate', i.gate, [n, F, H]);
  expectShape(op, 'up', i.up, [n, F, H]);
  expectShape(op, 'down', i.down, [n, H, F]);
  for (const [name, t] of [['x', i.x], ['residual', i.residual], ['weights', i.weights]] as const) {
    if (t.dtype !== 'f32') throw new ArgumentError(`${op}: ${name} must be f32, got ${t.dtype}`);
  }
  noBackwardYet(op, i.x, i.residual, i.weights);
  return i.x.backend.moeStep?.(i) ?? null;
}
