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
  /**
   * Optional: the sequences will hold at most `positions` tokens (prompt + new tokens), so a cache
   * that grows with the context (a KV cache) allocates that much once instead of growing by copies
   * — growing keeps the old and new buffers at once and overshoots by up to a quarter (or double),
   * which decides whether a large batch fits. A hint: more tokens than this still fit by growing.
   */
  reserve?(positions: number): void;
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
   * Optional: decode steps for this cache that skip the host work of each step (recorded device
   * work, replayed), each step's token chosen by `pick`; null where the model or device has none.
   * `pickKey` names what `pick` does when every picker of that name does the same device work on
   * the same buffers (the argmax: "argmax"); given, the model may keep its recorded steps for the
   * next generation with the same batch size and key, which then replays from its first step.
   */
  decodeStepper?(cache: C, pick: TokenPicker, pickKey?: string): DecodeStepper | null;
}

/**
 * Chooses the next token of every row from the last position's logits (B, V): an int32 (B, 1)
 * tensor on the same device, made by device work only (no values read back), so that it can be
 * recorded and replayed — the argmax, or a draw on the device (ops/sample-tokens.ts).
 */
export type TokenPicker = (logits: Tensor) => Tensor;

/** Decoding one token at a time without the per-step host work (see MambaDecodeStepper). */
export interface DecodeStepper {
  /**
   * Feeds ids, an int32 (B, 1) tensor on the model's device, advances the cache, and returns the
   * picked next ids as an int32 (B, 1) tensor. That tensor belongs to the stepper and is
   * overwritten by the next step: copy what must be kept before calling again.
   */
  step(ids: Tensor): Tensor;
  /** Steps replayed so far (the rest ran as usual). */
  readonly replayed: number;
  dispose(): void;
}
