/**
 * What generation needs from a model, and nothing more: a cache, and the logits of the last
 * position for some new tokens. Every causal LM family implements this.
 */
import type { Tensor } from '../tensor/tensor.js';

export interface DecodeCache {
  /** Tokens already consumed per sequence. */
  readonly seqlenOffset: number;
  readonly batchSize: number;
  /** Bytes of device memory the cache holds now. */
  memoryBytes(): number;
  dispose(): void;
}

export interface CausalLM<C extends DecodeCache = DecodeCache> {
  readonly vocabSize: number;
  /** Default end-of-sequence id(s) from the model's config. */
  readonly eosTokenId: number | number[] | null;
  readonly padTokenId: number | null;
  createCache(batchSize: number): C;
  /**
   * Feeds `ids` (B rows of equal length, the next tokens of each sequence) through the model,
   * advancing `cache`, and returns the logits of the last position, (B, V). `ids` may also be an
   * int32 (B, L) tensor on the model's device, already known to be in the vocabulary (e.g. an
   * argmax), so that decoding can continue without reading tokens back. Async for models that
   * read values back mid-way (Jamba's MoE routing).
   *
   * `attentionMask` (B, L), for models with `supportsAttentionMask`: 1 = a real token, 0 = padding
   * among these tokens (left-padded prompts); the cache remembers it.
   */
  nextLogits(ids: number[][] | Tensor, cache: C, attentionMask?: number[][]): Tensor | Promise<Tensor>;
  /** True when nextLogits takes an attention mask (batches of prompts of different lengths). */
  readonly supportsAttentionMask?: boolean;
  /**
   * Optional: greedy decode steps for this cache that skip the host work of each step (recorded
   * device work, replayed), or null where the model or device has none.
   */
  greedyStepper?(cache: C): GreedyStepper | null;
}

/** Greedy decoding one token at a time without the per-step host work (see MambaGreedyStepper). */
export interface GreedyStepper {
  /**
   * Feeds ids, an int32 (B, 1) tensor on the model's device, advances the cache, and returns the
   * argmax of the next logits as an int32 (B, 1) tensor. That tensor belongs to the stepper and is
   * overwritten by the next step: copy what must be kept before calling again.
   */
  step(ids: Tensor): Tensor;
  dispose(): void;
}
