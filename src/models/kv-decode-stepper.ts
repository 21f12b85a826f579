/**
 * Decoding by replay for models with attention layers (Jamba, Llama), as MambaDecodeStepper does
 * for Mamba: one decode step's device work is recorded once and replayed every token.
 *
 * A replay is right only if every launch reads and writes the same buffers with the same uniforms
 * as the recording. What changes between tokens therefore lives on the device: the token ids (one
 * fixed buffer, written by the picker), the position (DevicePosition: the KV length, the RoPE
 * positions, advanced by the step itself), the experts an MoE layer picks (routed on the device),
 * and Mamba layers' states (written back into the same buffers). The KV caches' buffers stay put
 * as long as their capacity lasts: before each step the stepper makes room for it, and when that
 * grows the buffers (a copy into larger ones, geometric) it drops the recording, makes a new
 * DevicePosition (its key mask spans the capacity) and records again.
 *
 * The host keeps its mirror of the cache up to date after every step (each KvCache's length, the
 * cache's seqlenOffset and attention mask), so that the cache is the same as after the usual
 * steps and can be handed to nextLogits at any time; a step after such usual steps uploads the
 * position again and records again.
 */
import type { RecordedWork, RecordingBackend } from '../backend/backend.js';
import type { DeviceName } from '../backend/registry.js';
import type { DecodeCache, DecodeStepper, TokenPicker } from '../generation/causal-lm.js';
import type { KvCache } from '../nn/attention.js';
import { DevicePosition } from '../nn/device-position.js';
import { pickInto } from './decode-graph.js';
import { zeros } from '../ops/create.js';
import { writeSlice } from '../ops/shape.js';
import { keep } from '../tensor/memory.js';
import type { Tensor } from '../tensor/tensor.js';

/** A cache with attention layers, as the stepper sees it (JambaCache, LlamaCache). */
export interface KvStepCache extends DecodeCache {
  seqlenOffset: number;
  attentionMask: number[][] | null;
}

/** What the stepper needs of the model. */
export interface KvStepModel<C extends KvStepCache> {
  readonly device: string;
  /** The KV caches of the cache's attention layers (all made: the prompt went through). */
  kvCaches(cache: C): KvCache[];
  /** The RoPE position of each row's next token, or null for a model without RoPE. */
  nextPositions(cache: C): number[] | null;
  /**
   * One token per row (ids int32 (B, 1)) through the model at position `at`, device work only
   * (nothing uploaded or read back): the logits (B, V). Writes this step's keys and values and the
   * new recurrent states into the cache's existing buffers; leaves the host-side counters alone.
   */
  stepAt(ids: Tensor, cache: C, at: DevicePosition): Tensor;
}


export class KvDecodeStepper<C extends KvStepCache> implements DecodeStepper {
  private graph: RecordedWork | null = null;
  private at: DevicePosition | null = null;
  /** Steps replayed so far (the rest ran as usual: the recorded ones, and all after a failed recording). */
  replayed = 0;
  /** Recordings made (one, plus one after each growth of the KV caches). */
  recordings = 0;
  /** Set when a recording could not be replayed: every step then runs as usual. */
  private plain = false;
  /** The ids every step reads, and where its pick goes. */
  private readonly ids: Tensor;
  /**
   * The cache's seqlenOffset after this stepper's last step: when it differs, the cache was moved
   * on by other means (nextLogits), which may have replaced its state buffers, so the position is
   * uploaded again and the step recorded again.
   */
  private expectedOffset = -1;

  constructor(
    private readonly model: KvStepModel<C>,
    private readonly cache: C,
    private readonly backend: RecordingBackend,
    private readonly pick: TokenPicker,
  ) {
    this.ids = keep(zeros([cache.batchSize, 1], { dtype: 'i32', device: model.device as DeviceName }));
  }

  step(ids: Tensor): Tensor {
    if (ids !== this.ids) writeSlice(this.ids, ids, 1, 0);
    const at = this.makeRoom();
    if (this.graph) {
      this.graph.replay();
      this.replayed++;
    } else if (this.plain) {
      this.run(at);
    } else {
      this.record(at);
    }
    this.advanceHost();
    return this.ids;
  }

  /**
   * Room for this step's keys in every KV cache (grown ahead, outside any recording) and the
   * DevicePosition for the current capacity; a growth drops the recording.
   */
  private makeRoom(): DevicePosition {
    const kvs = this.model.kvCaches(this.cache);
    const need = this.cache.seqlenOffset + 1;
    for (const [i, kv] of kvs.entries()) {
      if (kv.length !== this.cache.seqlenOffset) {
        throw new Error(`KvDecodeStepper: attention layer ${i} holds ${kv.length} tokens, the cache ${this.cache.seqlenOffset}`);
      }
    }
    // Without attention layers (an all-Mamba Jamba) nothing reads the position but the counters.
    if (this.at && kvs.length === 0 && this.cache.seqlenOffset === this.expectedOffset) return this.at;
    const capacity = kvs.length ? Math.max(...kvs.map((kv) => kv.capacity)) : need;
    const moved = this.cache.seqlenOffset !== this.expectedOffset;
    if (this.at && !moved && need <= this.at.capacity && capacity === this.at.capacity) return this.at;
    const want = need <= capacity ? capacity : kvs.length ? kvs[0]!.grownCapacity(need) : need;
    for (const kv of kvs) kv.reserve(want);
    this.dropRecording();
    this.at?.dispose();
    const c = this.cache;
    this.at = new DevicePosition({
      length: c.seqlenOffset,
      capacity: want,
      batchSize: c.batchSize,
      attentionMask: c.attentionMask,
      positions: this.model.nextPositions(c),
      device: this.model.device as DeviceName,
    });
    return this.at;
  }

  /** One step as usual: the picked ids written over the input ids, the position advanced on the device. */
  private run(at: DevicePosition): void {
    pickInto(this.ids, this.model.stepAt(this.ids, this.cache, at), this.pick);
    at.advance();
  }

  private record(at: DevicePosition): void {
    const work = this.backend.recordWork(() => this.run(at));
    if (work) {
      this.graph = work;
      this.recordings++;
      return;
    }
    this.plain = true;
  }

  /** The host's mirror of what the step did to the cache. */
  private advanceHost(): void {
    for (const kv of this.model.kvCaches(this.cache)) kv.length += 1;
    this.cache.seqlenOffset += 1;
    this.expectedOffset = this.cache.seqlenOffset;
    // In place: copying the rows every token would cost O(context) per token.
    for (const row of this.cache.attentionMask ?? []) row.push(1);
  }

  private dropRecording(): void {
    this.graph?.dispose();
    this.graph = null;
  }

  dispose(): void {
    this.dropRecording();
    this.at?.dispose();
    this.at = null;
    this.ids.dispose();
  }
}
