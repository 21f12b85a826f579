/**
 * Mamba's decode cache: per layer the conv state (B, ED, K-1) and the SSM state (B, ED, N).
 * Its size does not grow with the number of tokens: this is the O(1)-memory decoding.
 */
import type { DecodeCache } from '../../generation/causal-lm.js';
import type { MixerState } from '../../nn/mamba-mixer.js';

export class MambaCache implements DecodeCache {
  seqlenOffset = 0;
  /** null until the first tokens went through that layer. */
  readonly states: (MixerState | null)[];

  constructor(
    readonly batchSize: number,
    numLayers: number,
  ) {
    this.states = new Array<MixerState | null>(numLayers).fill(null);
  }

  /** Replaces layer i's state, disposing the old one. */
  update(i: number, s: MixerState): void {
    const old = this.states[i];
    if (old) {
      old.conv.dispose();
      old.ssm.dispose();
    }
    this.states[i] = s;
  }

  memoryBytes(): number {
    let b = 0;
    for (const s of this.states) if (s) b += (s.conv.size + s.ssm.size) * 4;
    return b;
  }

  dispose(): void {
    for (let i = 0; i < this.states.length; i++) {
      const s = this.states[i];
      if (s) {
        s.conv.dispose();
        s.ssm.dispose();
      }
      this.states[i] = null;
    }
  }
}
