/**
 * Mamba's decode cache: per layer the conv state (B, ED, K-1) and the SSM state (B, ED, N).
 * Its size does not grow with the number of tokens: this is the O(1)-memory decoding.
 */
import type { DecodeCache } from '../../generation/causal-lm.js';
import type { MixerState } from '../../nn/mamba-mixer.js';
import type { DeviceName } from '../../backend/registry.js';
import { zeros } from '../../ops/create.js';
import { writeSlice } from '../../ops/shape.js';
import { keep } from '../../tensor/memory.js';
import type { Tensor } from '../../tensor/tensor.js';

export class MambaCache implements DecodeCache {
  seqlenOffset = 0;
  /** null until the first tokens went through that layer. */
  readonly states: (MixerState | null)[];
  /**
   * Per layer, buffers of the state's shapes that a fused decode step writes the next state into;
   * the two then swap roles. Decoding thus cycles through two fixed buffers per layer, and the
   * device can reuse what it built for them (WebGPU bind groups) instead of rebuilding every token.
   */
  private readonly spares: (MixerState | null)[];
  /** A StepSlot's buffers, lent for a generation (borrow): never disposed here. */
  private lent = new Set<Tensor>();
  private disposed = false;

  constructor(
    readonly batchSize: number,
    numLayers: number,
  ) {
    this.states = new Array<MixerState | null>(numLayers).fill(null);
    this.spares = new Array<MixerState | null>(numLayers).fill(null);
  }

  /** Layer i's spare state buffers (made on first use); null before the layer has a state. */
  spare(i: number): MixerState | null {
    const s = this.states[i];
    if (!s) return null;
    let sp = this.spares[i];
    if (!sp) {
      sp = zeroStateLike(s);
      this.spares[i] = sp;
    }
    return sp;
  }

  /** Replaces layer i's state, disposing the old one. */
  update(i: number, s: MixerState): void {
    const old = this.states[i];
    const sp = this.spares[i];
    if (old && sp && s.conv === sp.conv && s.ssm === sp.ssm) {
      // The step wrote into the spare buffers: the old state's buffers become the spares.
      this.spares[i] = old;
      this.states[i] = s;
      return;
    }
    if (old) this.free(old);
    this.states[i] = s;
  }

  /** Disposes a state's buffers unless they are lent. */
  private free(s: MixerState): void {
    for (const t of [s.conv, s.ssm]) if (!this.lent.has(t)) t.dispose();
  }

  /** Every layer's state and spare buffers (made where missing), in layer order. */
  buffers(): { states: MixerState[]; spares: MixerState[] } {
    const states = this.filledStates();
    return { states, spares: states.map((_, i) => this.spare(i)!) };
  }

  /** Every layer's state, in layer order; an error before the prompt went through every layer. */
  filledStates(): MixerState[] {
    return this.states.map((s, i) => {
      if (!s) throw new Error(`MambaCache: layer ${i} has no state yet (feed the prompt first)`);
      return s;
    });
  }

  /**
   * Decodes on from `states` and `spares` (a StepSlot's buffers, see decode-graphs.ts): the current
   * states are copied into `states`, and the cache's own buffers are freed. They are not the cache's
   * to dispose: giveBack() returns them.
   */
  borrow(states: readonly MixerState[], spares: readonly MixerState[]): void {
    if (this.lent.size) throw new Error('MambaCache: already decoding from borrowed buffers');
    this.filledStates().forEach((s, i) => {
      writeSlice(states[i]!.conv, s.conv, 0, 0);
      writeSlice(states[i]!.ssm, s.ssm, 0, 0);
    });
    this.freeAll(); // the copies are queued before anything can reuse these buffers
    states.forEach((s, i) => {
      this.states[i] = s;
      this.spares[i] = spares[i]!;
    });
    this.lent = new Set([...states, ...spares].flatMap((s) => [s.conv, s.ssm]));
  }

  /**
   * Ends a borrow(): a cache still in use gets its own copy of its current states (the lender's
   * buffers go on to the next generation); a disposed one just lets go.
   */
  giveBack(): void {
    const lent = this.lent;
    if (!lent.size) return;
    this.lent = new Set();
    if (this.disposed) return;
    const copy = (t: Tensor) => {
      if (!lent.has(t)) return t;
      const own = keep(zeros(t.shape, { device: t.device as DeviceName }));
      writeSlice(own, t, 0, 0);
      return own;
    };
    for (let i = 0; i < this.states.length; i++) {
      const s = this.states[i];
      if (s) this.states[i] = { conv: copy(s.conv), ssm: copy(s.ssm) };
      const sp = this.spares[i];
      if (sp && (lent.has(sp.conv) || lent.has(sp.ssm))) {
        for (const t of [sp.conv, sp.ssm]) if (!lent.has(t)) t.dispose();
        this.spares[i] = null;
      }
    }
  }

  /**
   * What a fused step does to the cache, for a step replayed on the device (MambaDecodeStepper):
   * every layer's state and spare buffers swap roles, one more token is consumed.
   */
  advanceReplayed(): void {
    for (let i = 0; i < this.states.length; i++) {
      const s = this.states[i]!;
      this.states[i] = this.spares[i]!;
      this.spares[i] = s;
    }
    this.seqlenOffset += 1;
  }

  memoryBytes(): number {
    let b = 0;
    for (const s of [...this.states, ...this.spares]) if (s) b += (s.conv.size + s.ssm.size) * 4;
    return b;
  }

  /** Frees the cache's own buffers (lent ones are only let go of). */
  dispose(): void {
    this.disposed = true;
    this.freeAll();
  }

  /** Lets go of every state and spare, freeing those that are the cache's own. */
  private freeAll(): void {
    for (let i = 0; i < this.states.length; i++) {
      const s = this.states[i];
      if (s) this.free(s);
      this.states[i] = null;
      const sp = this.spares[i];
      if (sp) this.free(sp);
      this.spares[i] = null;
    }
  }
}

/** Zeros of a state's shapes on its device (kept: a cache's or a StepSlot's own buffers). */
export function zeroStateLike(s: MixerState): MixerState {
  const device = s.conv.device as DeviceName;
  return { conv: keep(zeros(s.conv.shape, { device })), ssm: keep(zeros(s.ssm.shape, { device })) };
}
