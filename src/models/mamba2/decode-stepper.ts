/**
 * Mamba-2 decoding by replay (as MambaDecodeStepper for Mamba): a batch-B decode step is the same
 * launches every token when every layer writes its new conv and SSM states over its old ones (the
 * cache's state tensors never change hands) and the token ids go through one fixed buffer (the
 * picker writes them there). The step is recorded once, as the device runs it, and replayed from
 * then on, skipping the JavaScript that chose its launches (three per layer with the fused step,
 * kernels/mamba2-step.ts; a few dozen op by op).
 */
import type { RecordedWork, RecordingBackend } from '../../backend/backend.js';
import type { DeviceName } from '../../backend/registry.js';
import type { DecodeStepper, TokenPicker } from '../../generation/causal-lm.js';
import { zeros } from '../../ops/create.js';
import { writeSlice } from '../../ops/shape.js';
import { keep } from '../../tensor/memory.js';
import type { Tensor } from '../../tensor/tensor.js';
import { pickInto } from '../decode-graph.js';
import type { Mamba2Cache } from './cache.js';

/** What the stepper needs of the model (Mamba2ForCausalLM). */
export interface Mamba2StepModel {
  readonly device: string;
  /** One token per row (int32 (B, 1) on the device) → logits (B, V), the states updated in their own buffers. */
  stepInPlace(ids: Tensor, cache: Mamba2Cache): Tensor;
}

export class Mamba2DecodeStepper implements DecodeStepper {
  private graph: RecordedWork | null = null;
  /** Steps replayed so far (the rest ran as usual, one of them recorded). */
  replayed = 0;
  /** Set when the recording could not be replayed (it uploaded or read back data): every step then runs as usual. */
  private plain = false;
  /** The ids every step reads, and where its pick goes. */
  private readonly ids: Tensor;

  constructor(
    private readonly model: Mamba2StepModel,
    private readonly cache: Mamba2Cache,
    private readonly backend: RecordingBackend,
    private readonly pick: TokenPicker,
  ) {
    this.ids = keep(zeros([cache.batchSize, 1], { dtype: 'i32', device: model.device as DeviceName }));
  }

  step(ids: Tensor): Tensor {
    if (ids !== this.ids) writeSlice(this.ids, ids, 1, 0);
    if (this.graph) {
      this.graph.replay();
      this.replayed++;
    } else if (this.plain) {
      this.run();
    } else {
      const work = this.backend.recordWork(() => this.run());
      if (work) this.graph = work;
      else this.plain = true;
    }
    this.cache.seqlenOffset += 1;
    return this.ids;
  }

  /** One step as usual: the picked ids written over the input ids. */
  private run(): void {
    pickInto(this.ids, this.model.stepInPlace(this.ids, this.cache), this.pick);
  }

  dispose(): void {
    this.graph?.dispose();
    this.graph = null;
    this.ids.dispose();
  }
}
