/**
 * Recorded decode steps kept by a model from one generation to the next, as mamba_ssm keeps its
 * CUDA graphs in a cache keyed by batch size (`update_graph_cache`): the first generation at a
 * batch size records the step (two recordings, one per parity of the state buffers, each a whole
 * step of JavaScript on the host: ~4 ms at 130M), and every later one replays from its first step.
 *
 * A recording reads and writes fixed buffers, so a slot owns them: the token ids and two sets of
 * per-layer state buffers. A generation leases the slot, copies its prompt's states into the
 * first set, and lends both sets to its cache (MambaCache.borrow); the cache hands them back when
 * the generation ends. A slot serves one generation at a time (a concurrent one at the same batch
 * size records its own steps, as before), and its recordings are dropped when the model's
 * parameters change (an optimizer step, a load), since they bind the parameters' buffers and what
 * the backend derived from them.
 */
import { envSwitch } from '../../env.js';
import type { RecordedWork } from '../../backend/backend.js';
import type { DeviceName } from '../../backend/registry.js';
import { zeros } from '../../ops/create.js';
import type { MixerState } from '../../nn/mamba-mixer.js';
import { keep } from '../../tensor/memory.js';
import type { Tensor } from '../../tensor/tensor.js';
import { zeroStateLike } from './cache.js';

/** Slots kept at most (the least recently leased goes first): each holds two state sets. */
const MAX_SLOTS = 2;
/**
 * The most device memory a slot's two state sets may hold (64 MiB; 130M Mamba: batches up to 11).
 * Kept recordings matter where decoding is launch-bound, at small batches, and recording costs
 * about as much at any batch size, while a large batch's steps take long on the device: there,
 * keeping two more state sets after the generation (GBs at 1.4B × 64) is not worth a few ms.
 */
export const KEEP_BYTES = 64 * 2 ** 20;

/** A stepper's recorded steps and the ids buffer they read and write. */
export class StepRecordings {
  /** The recorded steps, by parity of the state buffers they read (see MambaDecodeStepper). */
  readonly graphs: [RecordedWork | null, RecordedWork | null] = [null, null];
  /** Set when a recording could not be replayed: every step then runs as usual. */
  plain = false;
  /** The ids every step reads, and where its picked ids go: int32 (B, 1). */
  readonly ids: Tensor;

  constructor(batchSize: number, device: DeviceName) {
    this.ids = keep(zeros([batchSize, 1], { dtype: 'i32', device }));
  }

  dropRecordings(): void {
    for (const g of this.graphs) g?.dispose();
    this.graphs.fill(null);
    this.plain = false;
  }

  dispose(): void {
    this.dropRecordings();
    this.ids.dispose();
  }
}

/** Recordings kept by the model, with the state buffers they decode in (graph p reads sets[p], writes the other). */
export class StepSlot extends StepRecordings {
  leased = false;
  /** Two sets of per-layer state buffers, of the shapes of the states they were made for. */
  readonly sets: [MixerState[], MixerState[]];

  constructor(
    /** Its key in MambaDecodeGraphs (batch size and picker). */
    readonly key: string,
    batchSize: number,
    shapes: readonly MixerState[],
    device: DeviceName,
    /** The parameters' versions the recordings were made with. */
    public weights: string,
  ) {
    super(batchSize, device);
    this.sets = [shapes.map(zeroStateLike), shapes.map(zeroStateLike)];
  }

  /** Whether the slot's state buffers have these states' shapes (another config, another slot). */
  fits(states: readonly MixerState[]): boolean {
    const same = (a: Tensor, b: Tensor) => a.shape.length === b.shape.length && a.shape.every((n, i) => n === b.shape[i]);
    return states.length === this.sets[0].length && states.every((s, i) => same(s.conv, this.sets[0][i]!.conv) && same(s.ssm, this.sets[0][i]!.ssm));
  }

  override dispose(): void {
    super.dispose();
    for (const set of this.sets) {
      for (const s of set) {
        s.conv.dispose();
        s.ssm.dispose();
      }
    }
  }
}

export class MambaDecodeGraphs {
  /** By key (batch size and picker), in order of last lease. */
  private readonly slots = new Map<string, StepSlot>();

  constructor(private readonly keepBytes = KEEP_BYTES) {}

  /**
   * The slot for decoding `states` (the prompt's, one per layer) with picker `pickKey`, leased to
   * the caller until release(); null when it is in use (a concurrent generation), when its two
   * state sets would pass KEEP_BYTES, or when MAMBA_TS_KEEP_DECODE_GRAPHS=0 (every generation
   * records its own steps, for comparison).
   */
  lease(batchSize: number, pickKey: string, states: readonly MixerState[], weights: string): StepSlot | null {
    if (envSwitch('MAMBA_TS_KEEP_DECODE_GRAPHS') === '0') return null;
    if (2 * states.reduce((b, s) => b + (s.conv.size + s.ssm.size) * 4, 0) > this.keepBytes) return null;
    const key = `${batchSize}|${pickKey}`;
    let slot = this.slots.get(key);
    if (slot?.leased) return null;
    if (slot && !slot.fits(states)) {
      this.slots.delete(key);
      slot.dispose();
      slot = undefined;
    }
    if (slot && slot.weights !== weights) {
      slot.dropRecordings();
      slot.weights = weights;
    }
    if (!slot) {
      slot = new StepSlot(key, batchSize, states, states[0]!.ssm.device as DeviceName, weights);
      // Over the bound: the least recently leased go first, idle ones before one in use (which is
      // then freed at its release).
      for (const inUse of [false, true]) {
        for (const [k, old] of this.slots) {
          if (this.slots.size < MAX_SLOTS) break;
          if (old.leased !== inUse) continue;
          this.slots.delete(k);
          if (!inUse) old.dispose();
        }
      }
    }
    this.slots.delete(key);
    this.slots.set(key, slot); // most recent last
    slot.leased = true;
    return slot;
  }

  release(slot: StepSlot): void {
    slot.leased = false;
    if (this.slots.get(slot.key) !== slot) slot.dispose(); // dropped (cleared, evicted) while leased
  }

  /** Frees the slots; one leased now is freed when its generation releases it. */
  clear(): void {
    for (const slot of this.slots.values()) if (!slot.leased) slot.dispose();
    this.slots.clear();
  }

  /** Bytes of device memory the slots hold (state sets and ids; not the recordings' temporaries). */
  memoryBytes(): number {
    let b = 0;
    for (const slot of this.slots.values()) for (const set of slot.sets) for (const s of set) b += (s.conv.size + s.ssm.size) * 4;
    return b;
  }

  dispose(): void {
    this.clear();
  }
}
