/**
 * Causal grouped-query self-attention as Jamba's (HF `JambaAttention`) and Llama's (HF
 * `LlamaAttention`): q/k/v/o projections (with biases where asked: Llama's attention_bias), scores
 * scaled by 1/sqrt(head_dim), a full causal mask, softmax over the keys in float32 — one fused op,
 * scaledDotProductAttention (ops/attention.ts). Jamba has no positional encoding at all; Llama
 * rotates queries and keys by their positions first (RoPE, ops/rope.ts), given as a `Rotation`.
 *
 * Queries stay in the projection's layout (B, L, heads, hd); keys and values go to (B, kvHeads, L,
 * hd), the KV cache's layout. Query head h uses KV head floor(h / G), G = heads / kvHeads, as HF's
 * repeat_kv, without repeating K and V.
 */
import { appendKvAt, attentionAt, attentionAtFits, reshape, rope, scaledDotProductAttention, transpose, writeSlice, zeros } from '../ops/index.js';
import type { DevicePosition } from './device-position.js';
import type { DeviceName } from '../backend/registry.js';
import type { Tensor } from '../tensor/tensor.js';
import { keep } from '../tensor/memory.js';
import { ArgumentError } from '../errors.js';
import { formatShape } from '../tensor/shape.js';
import { Linear } from './layers.js';
import { Module } from './module.js';

export { causalMask } from '../ops/attention.js';

export interface AttentionDims {
  hiddenSize: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  /** Biases on the q, k, v and o projections (HF's attention_bias); default none. */
  bias?: boolean;
}

/**
 * Rotary position embedding for one pass (ops/rope.ts): the new tokens' positions, int32 (B, L),
 * and the inverse frequencies (headDim / 2). Keys are rotated before they enter the KV cache.
 */
export interface Rotation {
  positions: Tensor;
  invFreq: Tensor;
}

/**
 * The keys and values of the tokens seen so far, for one attention layer: buffers k and v of
 * (B, kvHeads, capacity, headDim) whose first `length` positions are filled. New tokens are
 * written in place, so a decode step writes one token instead of copying the whole cache; when
 * the capacity runs out it doubles (one copy of the filled part), so the copies over a whole
 * generation stay linear in its length — by a quarter past 1 GiB (see grownCapacity). The buffers belong to the cache, outside every tidy
 * scope, until dispose().
 */
export class KvCache {
  k: Tensor;
  v: Tensor;
  length = 0;

  constructor(
    readonly batch: number,
    readonly kvHeads: number,
    readonly headDim: number,
    readonly device: DeviceName,
    capacity = 16,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new ArgumentError(`KvCache: capacity must be a positive integer, got ${capacity}`);
    this.k = keep(zeros([batch, kvHeads, capacity, headDim], { device }));
    this.v = keep(zeros([batch, kvHeads, capacity, headDim], { device }));
  }

  /** Positions the buffers hold before they must grow. */
  get capacity(): number {
    return this.k.shape[2]!;
  }

  /** Appends the keys and values of new tokens, (B, kvHeads, L, headDim) each. */
  append(k: Tensor, v: Tensor): void {
    const want = [this.batch, this.kvHeads, -1, this.headDim];
    for (const [name, t] of [['k', k], ['v', v]] as const) {
      if (t.rank !== 4 || want.some((d, i) => d !== -1 && d !== t.shape[i])) {
        throw new ArgumentError(`KvCache.append: ${name} must be (${this.batch}, ${this.kvHeads}, L, ${this.headDim}), got ${formatShape(t.shape)}`);
      }
    }
    const L = k.shape[2]!;
    if (v.shape[2] !== L) throw new ArgumentError(`KvCache.append: k has ${L} positions, v ${v.shape[2]}`);
    if (this.length + L > this.capacity) this.grow(this.grownCapacity(this.length + L));
    writeSlice(this.k, k, 2, this.length);
    writeSlice(this.v, v, 2, this.length);
    this.length += L;
  }

  /** The capacity to grow to when `need` positions do not fit. */
  grownCapacity(need: number): number {
    return grownCapacity(this.capacity, need, this.batch * this.kvHeads * this.headDim * 4);
  }

  /**
   * Makes room for at least `capacity` positions (growing to it at once; nothing happens when
   * there is room already): a replayed decode step grows the cache ahead, outside its recording.
   */
  reserve(capacity: number): void {
    if (capacity > this.capacity) this.grow(capacity);
  }

  /**
   * Room for a planned sequence length (DecodeCache.reserve), as far as one buffer of PLANNED_BYTES
   * allows; past that the cache grows as usual when it must.
   */
  plan(positions: number): void {
    const bytesPerPosition = this.batch * this.kvHeads * this.headDim * 4;
    this.reserve(Math.min(positions, Math.floor(PLANNED_BYTES / bytesPerPosition)));
  }

  private grow(capacity: number): void {
    const move = (old: Tensor) => {
      const t = keep(zeros([this.batch, this.kvHeads, capacity, this.headDim], { device: this.device }));
      writeSlice(t, old, 2, 0);
      old.dispose();
      return t;
    };
    this.k = move(this.k);
    this.v = move(this.v);
  }

  dispose(): void {
    this.k.dispose();
    this.v.dispose();
  }
}

/**
 * A buffer of k or v past this many bytes grows by a quarter instead of doubling: WebGPU binds at
 * most 2 GiB (less 4 bytes) per buffer, which doubling from just over 1 GiB would pass (e.g. a
 * 1.3B Transformer's layer at batch 64 × 2,176 tokens needs 1.1 GiB; doubled from 2,048, 2.1).
 */
const DOUBLING_BYTES = 2 ** 30;

/** The largest buffer a planned length reserves: WebGPU's usual binding limit (2 GiB less 4 bytes). */
const PLANNED_BYTES = 2 ** 31 - 4;

/** The next capacity (positions) of a buffer of `capacity` that must hold `need`. */
export function grownCapacity(capacity: number, need: number, bytesPerPosition: number): number {
  const next = 2 * capacity * bytesPerPosition <= DOUBLING_BYTES ? 2 * capacity : Math.ceil((1.25 * capacity) / 256) * 256;
  return Math.max(next, need);
}

/**
 * A first capacity for a prompt of L tokens: the planned length of the sequences when known (see
 * DecodeCache.reserve; within PLANNED_BYTES), else room for the prompt and as many generated
 * tokens again (within DOUBLING_BYTES when that is more than L).
 */
function initialCapacity(L: number, bytesPerPosition: number, planned = 0): number {
  if (planned > L) return Math.max(L, Math.min(planned, Math.floor(PLANNED_BYTES / bytesPerPosition)));
  const doubled = Math.max(16, 2 ** Math.ceil(Math.log2(2 * L)));
  return doubled * bytesPerPosition <= DOUBLING_BYTES ? doubled : Math.max(L, Math.ceil((1.25 * L) / 256) * 256);
}

export class CausalSelfAttention extends Module {
  readonly q_proj: Linear;
  readonly k_proj: Linear;
  readonly v_proj: Linear;
  readonly o_proj: Linear;

  constructor(readonly dims: AttentionDims) {
    super();
    const { hiddenSize: H, numHeads: nq, numKvHeads: nkv, headDim: hd } = dims;
    const bias = dims.bias ?? false;
    this.q_proj = this.child('q_proj', new Linear(H, nq * hd, bias));
    this.k_proj = this.child('k_proj', new Linear(H, nkv * hd, bias));
    this.v_proj = this.child('v_proj', new Linear(H, nkv * hd, bias));
    this.o_proj = this.child('o_proj', new Linear(nq * hd, H, bias));
  }

  /**
   * x (B, L, H) → (B, L, H). With `past` (the cache of earlier tokens, or null at a sequence start)
   * the new tokens also attend to the cached ones and are appended to it in place; the cache
   * (`past` itself, or a new one, of `plannedLength` positions when that is known) is returned. `keyMask` (B, Lk), Lk = cached + L tokens: 1 for
   * a real token, 0 for padding (see ops/attention.ts). `rotation`: RoPE for queries and keys
   * (absent: no positional encoding, as Jamba). Callers wrap this in tidy().
   */
  forward(x: Tensor, past?: undefined, keyMask?: Tensor, rotation?: Rotation): Tensor;
  forward(x: Tensor, past: KvCache | null, keyMask?: Tensor, rotation?: Rotation, plannedLength?: number): { out: Tensor; kv: KvCache };
  forward(x: Tensor, past?: KvCache | null, keyMask?: Tensor, rotation?: Rotation, plannedLength = 0): Tensor | { out: Tensor; kv: KvCache } {
    const [B, L] = x.shape as [number, number, number];
    const { numHeads: nq, numKvHeads: nkv, headDim: hd } = this.dims;
    const rotated = (t: Tensor) => (rotation ? rope(t, rotation.positions, rotation.invFreq) : t);
    const q = rotated(reshape(this.q_proj.forward(x), [B, L, nq, hd]));
    // (B, L, kv, hd) → (B, kv, L, hd)
    const toCache = (t: Tensor) => transpose(t, [0, 2, 1, 3]);
    const k = toCache(rotated(reshape(this.k_proj.forward(x), [B, L, nkv, hd])));
    const v = toCache(reshape(this.v_proj.forward(x), [B, L, nkv, hd]));
    let ctx: Tensor; // (B, L, heads, hd)
    let cache: KvCache | null = null;
    if (past === undefined) {
      ctx = scaledDotProductAttention(q, k, v, { keyMask: keyMask ?? null });
    } else {
      cache = past ?? new KvCache(B, nkv, hd, x.device as DeviceName, initialCapacity(L, B * nkv * hd * 4, plannedLength));
      cache.append(k, v);
      ctx = scaledDotProductAttention(q, cache.k, cache.v, { keyLength: cache.length, keyMask: keyMask ?? null });
    }
    const out = this.o_proj.forward(reshape(ctx, [B, L, nq * hd]));
    return cache ? { out, kv: cache } : out;
  }

  /** Whether the device runs stepAt for `batch` rows (the device-positioned attention ops, and dimensions they take). */
  canStepAt(batch: number): boolean {
    const { numHeads, numKvHeads, headDim } = this.dims;
    return attentionAtFits(this.q_proj.weight.value, batch, numHeads, numKvHeads, headDim);
  }

  /**
   * One token per row, x (B, 1, H), at the position `at` holds on the device (a replayable decode
   * step): its keys and values go into `kv` at at.length, which must have room (the caller grows
   * it ahead, see KvCache.reserve), and it attends to at.length + 1 keys. RoPE rotates by
   * at.positions when `invFreq` is given. `kv.length` is left for the caller to advance. Same
   * numbers as forward(x, kv, keyMask, rotation) at that position. Callers wrap this in tidy().
   */
  stepAt(x: Tensor, kv: KvCache, at: DevicePosition, invFreq?: Tensor): Tensor {
    const B = x.shape[0]!;
    const { numHeads: nq, numKvHeads: nkv, headDim: hd } = this.dims;
    if (invFreq && !at.positions) throw new ArgumentError('CausalSelfAttention.stepAt: RoPE needs the device positions (DevicePosition.positions)');
    const rotated = (t: Tensor) => (invFreq ? rope(t, at.positions!, invFreq) : t);
    const q = rotated(reshape(this.q_proj.forward(x), [B, 1, nq, hd]));
    // (B, 1, kv, hd) → (B, kv, 1, hd): the same elements in the same order, so a reshape.
    const k = reshape(rotated(reshape(this.k_proj.forward(x), [B, 1, nkv, hd])), [B, nkv, 1, hd]);
    const v = reshape(this.v_proj.forward(x), [B, nkv, 1, hd]);
    appendKvAt(kv.k, kv.v, k, v, at.length);
    const ctx = attentionAt(q, kv.k, kv.v, at.length, at.keyMask);
    return this.o_proj.forward(reshape(ctx, [B, 1, nq * hd]));
  }
}
