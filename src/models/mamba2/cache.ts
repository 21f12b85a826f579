/**
 * Mamba-2's decode cache: per layer the conv state (B, E + 2·G·N, K−1) and the SSM state
 * (B, H, P, N). Its size does not grow with the number of tokens.
 */
import type { DecodeCache } from '../../generation/causal-lm.js';
import type { Mamba2State } from './mixer.js';

export class Mamba2Cache implements DecodeCache {
  seqlenOffset = 0;
  /** null until the first tokens went through that layer. */
  readonly states: (Mamba2State | null)[];

  constructor(
    readonly batchSize: number,
    numLayers: number,
  ) {
    this.states = new Array<Mamba2State | null>(numLayers).fill(null);
  }

  /** Replaces layer i's state, disposing the old one. */
  update(i: number, s: Mamba2State): void {
    const old = this.states[i];
    if (old && old !== s) {
      if (old.conv !== s.conv) old.conv.dispose();
      if (old.ssm !== s.ssm) old.ssm.dispose();
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
