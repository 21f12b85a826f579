/**
 * Decoding by replay, as mamba_ssm decodes with CUDA graphs. A batch-B decode step is the
 * same launches every token: the fused layer steps write each layer's new state into its spare
 * buffers, so the states cycle through two buffer sets (MambaCache.spare), and the token ids go
 * through one fixed buffer (the picker — argmax or a draw on the device — writes them there). Each of the two steps of the cycle is therefore recorded once, as the
 * device runs it, and replayed from then on: the host then spends a few calls per launch instead
 * of the JavaScript that chose the launches (tensor bookkeeping, bind-group lookups, uniforms),
 * which is what bounds batch-1 decoding on a fast GPU. The recordings, with the buffers they use,
 * may be kept by the model for the next generation of the same batch size (decode-graphs.ts).
 */
import type { RecordingBackend } from '../../backend/backend.js';
import type { DecodeStepper, TokenPicker } from '../../generation/causal-lm.js';
import { writeSlice } from '../../ops/shape.js';
import type { DeviceName } from '../../backend/registry.js';
import type { Tensor } from '../../tensor/tensor.js';
import { pickInto } from '../decode-graph.js';
import type { MambaCache } from './cache.js';
import { StepRecordings, type StepSlot } from './decode-graphs.js';

/** What the stepper needs of the model: MambaForCausalLM's recurrent step. */
export interface StepModel {
  nextLogits(ids: Tensor, cache: MambaCache): Tensor;
  readonly device: string;
}


export class MambaDecodeStepper implements DecodeStepper {
  /** The recordings and ids: the model's kept slot (whose state buffers the cache borrows), or this stepper's own. */
  private readonly rec: StepRecordings;
  private parity = 0;
  private disposed = false;
  /** Steps replayed so far (the rest ran as usual, the recordings among them). */
  replayed = 0;

  /**
   * With `kept` (a slot leased from the model's MambaDecodeGraphs), decodes in its buffers and
   * replays what an earlier generation recorded there; without, records for this generation only,
   * in the cache's own state buffers.
   */
  constructor(
    private readonly model: StepModel,
    private readonly cache: MambaCache,
    private readonly backend: RecordingBackend,
    private readonly pick: TokenPicker,
    private readonly kept: { slot: StepSlot; release(): void } | null = null,
  ) {
    if (kept) {
      // The prompt's states go into the set the slot's first recording reads (parity 0).
      cache.borrow(kept.slot.sets[0], kept.slot.sets[1]);
      this.rec = kept.slot;
    } else {
      this.rec = new StepRecordings(cache.batchSize, model.device as DeviceName);
    }
  }

  /** The ids every step reads, and where its picked ids go. */
  private get ids(): Tensor {
    return this.rec.ids;
  }

  step(ids: Tensor): Tensor {
    if (this.disposed) throw new Error('MambaDecodeStepper: step() after dispose()');
    if (ids !== this.ids) writeSlice(this.ids, ids, 1, 0);
    const graph = this.rec.graphs[this.parity];
    if (graph) {
      graph.replay();
      this.cache.advanceReplayed();
      this.replayed++;
    } else if (this.rec.plain) {
      this.run();
    } else {
      this.record();
    }
    this.parity ^= 1;
    return this.ids;
  }

  /** One step as usual: the picked ids written over the input ids. */
  private run(): void {
    pickInto(this.ids, this.model.nextLogits(this.ids, this.cache), this.pick);
  }

  private record(): void {
    const before = this.cache.buffers();
    const work = this.backend.recordWork(() => this.run());
    // A replay is right only if the step wrote into the spare buffers and nothing else changed
    // hands (e.g. no fused step for this batch size: the states were then new tensors).
    const after = this.cache.buffers();
    const swapped = after.states.every((s, i) => s.conv === before.spares[i]!.conv && s.ssm === before.spares[i]!.ssm && after.spares[i]!.conv === before.states[i]!.conv && after.spares[i]!.ssm === before.states[i]!.ssm);
    if (work && swapped) {
      this.rec.graphs[this.parity] = work;
      return;
    }
    work?.dispose();
    this.rec.dropRecordings();
    this.rec.plain = true;
  }

  dispose(): void {
    if (this.disposed) return; // twice would release a slot another generation may hold by then
    this.disposed = true;
    if (this.kept) {
      // The cache keeps its current states (copied out of the slot's buffers if it is still used).
      this.cache.giveBack();
      this.kept.release();
    } else {
      this.rec.dispose();
    }
  }
}
