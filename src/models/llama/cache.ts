/**
 * Llama's decode cache (HF's DynamicCache): per layer a KvCache — the keys (already rotated by
 * their positions) and values of every token so far, written in place into buffers that grow
 * geometrically — and the attention mask of those tokens, which also gives the positions of the
 * next ones (see positions.ts).
 */
import type { DecodeCache } from '../../generation/causal-lm.js';
import type { KvCache } from '../../nn/attention.js';
import { hasPadding } from '../../generation/attention-mask.js';

export class LlamaCache implements DecodeCache {
  seqlenOffset = 0;
  /**
   * HF's attention_mask of the tokens consumed so far (B, seqlenOffset), so that attention keeps
   * ignoring cached keys that were padding and positions keep counting real tokens only; null
   * while no token was padding.
   */
  attentionMask: number[][] | null = null;
  /** null until the first tokens went through that layer. */
  readonly layers: (KvCache | null)[];

  constructor(
    readonly batchSize: number,
    numLayers: number,
  ) {
    this.layers = new Array<KvCache | null>(numLayers).fill(null);
  }

  /**
   * The mask over past and new keys once `L` more tokens with mask `next` (null: all real) are
   * consumed; null when none of them is padding.
   */
  maskAfter(next: number[][] | null, L: number): number[][] | null {
    if (!this.attentionMask && !hasPadding(next)) return null;
    const ones = (n: number) => new Array<number>(n).fill(1);
    const past = this.attentionMask ?? Array.from({ length: this.batchSize }, () => ones(this.seqlenOffset));
    return past.map((row, b) => [...row, ...(next ? next[b]! : ones(L))]);
  }

  /** Positions each sequence will reach (reserve()); 0 while unknown. */
  planned = 0;

  /**
   * Plans `positions` tokens (DecodeCache.reserve): layers that exist grow to it now; layers made
   * later are made at that length (the model passes `planned` to the attention that creates them).
   */
  reserve(positions: number): void {
    this.planned = Math.max(this.planned, positions);
    for (const kv of this.layers) kv?.plan(this.planned);
  }

  /** Sets layer i's cache (a KvCache grows in place, so this happens once per layer). */
  update(i: number, kv: KvCache): void {
    const old = this.layers[i];
    if (old && old !== kv) old.dispose();
    this.layers[i] = kv;
  }

  /** The filled buffers' bytes (capacity included: what the device holds). */
  memoryBytes(): number {
    return this.layers.reduce((b, kv) => b + (kv ? (kv.k.size + kv.v.size) * 4 : 0), 0);
  }

  dispose(): void {
    for (let i = 0; i < this.layers.length; i++) {
      this.layers[i]?.dispose();
      this.layers[i] = null;
    }
  }
}
