/**
 * Decoding by replay, as mamba_ssm decodes with CUDA graphs. A batch-B decode step is the
 * same launches every token: the fused layer steps write each layer's new state into its spare
 * buffers, so the states cycle through two buffer sets (MambaCache.spare), and the token ids go
 * through one fixed buffer (the picker — argmax or a draw on the device — writes them there). Each of the two steps of the cycle is therefore recorded once, as the
 * device runs it, and replayed from then on: the host then spends a few calls per launch instead
 * of the JavaScript that chose the launches (tensor bookkeeping, bind-group lookups, uniforms),
 * which is what bounds batch-1 decoding on a fast GPU.
 */
import type { RecordedWork, RecordingBackend } from '../../backend/backend.js';
import type { DecodeStepper, TokenPicker } from '../../generation/causal-lm.js';
import { writeSlice } from '../../ops/shape.js';
import { zeros } from '../../ops/create.js';
import type { DeviceName } from '../../backend/registry.js';
import { keep } from '../../tensor/memory.js';
import type { Tensor } from '../../tensor/tensor.js';
import { pickInto } from '../decode-graph.js';
import type { MambaCache } from './cache.js';

/** What the stepper needs of the model: MambaForCausalLM's recurrent step. */
export interface StepModel {
  nextLogits(ids: Tensor, cache: MambaCache): Tensor;
  readonly device: string;
}


export class MambaDecodeStepper implements DecodeStepper {
  /** The recorded steps, by parity of the state buffers they read. */
  private readonly graphs: [RecordedWork | null, RecordedWork | null] = [null, null];
  private parity = 0;
  /** Steps replayed so far (the rest ran as usual, two of them recorded). */
  replayed = 0;
  /** Set when a recording could not be replayed: every step then runs as usual. */
  private plain = false;
  /** The ids every step reads, and where its argmax goes. */
  private readonly ids: Tensor;

  constructor(
    private readonly model: StepModel,
    private readonly cache: MambaCache,
    private readonly backend: RecordingBackend,
    private readonly pick: TokenPicker,
  ) {
    this.ids = keep(zeros([cache.batchSize, 1], { dtype: 'i32', device: model.device as DeviceName }));
  }

  step(ids: Tensor): Tensor {
    if (ids !== this.ids) writeSlice(this.ids, ids, 1, 0);
    const graph = this.graphs[this.parity];
    if (graph) {
      graph.replay();
      this.cache.advanceReplayed();
      this.replayed++;
    } else if (this.plain) {
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
      this.graphs[this.parity] = work;
      return;
    }
    work?.dispose();
    this.plain = true;
    for (const g of this.graphs) g?.dispose();
    this.graphs.fill(null);
  }

  dispose(): void {
    for (const g of this.graphs) g?.dispose();
    this.graphs.fill(null);
    this.ids.dispose();
  }
}
