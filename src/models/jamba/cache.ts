/**
 * Jamba's decode cache (HF's HybridMambaAttentionDynamicCache, without its one-token-at-a-time
 * limitation): per attention layer a KvCache (keys and values so far, written in place into
 * buffers that grow geometrically with the context); per Mamba layer the conv and SSM states,
 * constant in size.
 */
import type { DecodeCache } from '../../generation/causal-lm.js';
import type { KvCache } from '../../nn/attention.js';
import type { MixerState } from '../../nn/mamba-mixer.js';
import { hasPadding } from '../../generation/attention-mask.js';

export type JambaLayerState = { kind: 'attention'; kv: KvCache } | { kind: 'mamba'; state: MixerState };

function tensorsOf(s: JambaLayerState) {
  return s.kind === 'attention' ? [s.kv.k, s.kv.v] : [s.state.conv, s.state.ssm];
}

export class JambaCache implements DecodeCache {
  seqlenOffset = 0;
  /**
   * HF's attention_mask of the tokens consumed so far (B, seqlenOffset), so that attention keeps
   * ignoring cached keys that were padding; null while no token was padding.
   */
  attentionMask: number[][] | null = null;
  /** null until the first tokens went through that layer. */
  readonly layers: (JambaLayerState | null)[];

  constructor(
    readonly batchSize: number,
    numLayers: number,
  ) {
    this.layers = new Array<JambaLayerState | null>(numLayers).fill(null);
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
   * Plans `positions` tokens (DecodeCache.reserve): attention layers that exist grow to it now;
   * those made later are made at that length (the model passes `planned` to their attention).
   */
  reserve(positions: number): void {
    this.planned = Math.max(this.planned, positions);
    for (const s of this.layers) if (s?.kind === 'attention') s.kv.plan(this.planned);
  }

  /** Replaces layer i's state, disposing the old one (a KvCache updated in place is kept). */
  update(i: number, s: JambaLayerState): void {
    const old = this.layers[i];
    const sameKv = old?.kind === 'attention' && s.kind === 'attention' && old.kv === s.kv;
    if (old && !sameKv) for (const t of tensorsOf(old)) t.dispose();
    this.layers[i] = s;
  }

  memoryBytes(): number {
    let b = 0;
    for (const s of this.layers) if (s) for (const t of tensorsOf(s)) b += t.size * 4;
    return b;
  }

  dispose(): void {
    for (let i = 0; i < this.layers.length; i++) {
      const s = this.layers[i];
      if (s) for (const t of tensorsOf(s)) t.dispose();
      this.layers[i] = null;
    }
  }
}
