/**
 * A training step recorded once and replayed, as decoding replays its steps (decode-stepper.ts):
 * on WebGPU a small model's step is hundreds of short launches, and the JavaScript that chooses
 * them (tensor bookkeeping, the tape, bind groups, uniforms) costs more than the GPU's work. The
 * step is the shared one (train-step.ts) with the fused AdamW: forward from fixed input buffers,
 * backward from a fixed seed, the clip and update on the device, the gradients (the recording's
 * temporaries) cleared. Before each replay the host writes the batch into the input buffers and
 * the step's scalars (learning rate, bias corrections) into the optimizer's; nothing else changes.
 *
 * The first step runs as usual (it makes what is made once: the optimizer's buffers, the packed
 * parameter caches), the second is recorded as it runs, the rest are replays. On the CPU (no
 * recordWork) every step runs as usual: "replay" is the ordinary step. Replayed steps give the
 * same bits as ordinary ones (test/replayed-step.test.ts).
 */
import '../autograd/backward.js';
import { noGrad } from '../autograd/tape.js';
import type { RecordedWork } from '../backend/backend.js';
import type { DeviceName } from '../backend/registry.js';
import { UnsupportedError, ArgumentError } from '../errors.js';
import type { Parameter } from '../nn/module.js';
import { tensor, zeros } from '../ops/create.js';
import { filled } from '../ops/random.js';
import { reshape, writeSlice } from '../ops/shape.js';
import { keep, tidy } from '../tensor/memory.js';
import type { Tensor } from '../tensor/tensor.js';
import type { AdamW } from './adamw.js';
import { applyFusedAndClear, backwardInto, clipBound } from './train-step.js';

export interface ReplayedStepInput {
  shape: readonly number[];
  dtype: 'i32' | 'f32';
}

export interface ReplayedStepOptions {
  opt: AdamW;
  params: readonly Parameter[];
  device: DeviceName;
  gradClip: number;
  /** The batch's device inputs (token ids, targets, ...): fixed buffers the step reads. */
  inputs: readonly ReplayedStepInput[];
  /**
   * The scalar loss from the input tensors, computed with recording on and device work only (no
   * upload, no readback: a recording that does either is not replayed, and every step then runs
   * as usual). What it makes besides the loss it disposes.
   */
  lossOf: (inputs: readonly Tensor[]) => Tensor;
}

export class ReplayedTrainStep {
  /** The inputs every step reads (written by step()). */
  readonly inputs: Tensor[];
  /** (1): the last step's loss. */
  readonly loss: Tensor;
  private readonly seed: Tensor;
  private graph: RecordedWork | null = null;
  /** Steps run so far, and how many of them were replays. */
  steps = 0;
  replayed = 0;
  /** Set when a recording could not be replayed (or the device cannot record): every step runs as usual. */
  plain = false;
  /** What the recording's launches baked in (see step's `key`). */
  private recordedKey: string | null = null;
  private readonly maxNorm: number;

  constructor(private readonly o: ReplayedStepOptions) {
    if (!o.opt.fusedOptimizer()) throw new UnsupportedError(`ReplayedTrainStep: the ${o.device} backend has no fused AdamW for these parameters`);
    this.maxNorm = clipBound(o.gradClip);
    this.inputs = o.inputs.map((i) => keep(zeros([...i.shape], { dtype: i.dtype, device: o.device })));
    this.loss = keep(zeros([1], { device: o.device }));
    this.seed = keep(filled([], 1, { device: o.device }));
    if (!this.backend.recordWork) this.plain = true;
  }

  private get backend() {
    return this.loss.backend;
  }

  /** The gradients' norm of the last step, before clipping: (1), on the device. */
  get gradNorm(): Tensor {
    return this.o.opt.fusedOptimizer()!.gradNorm;
  }

  /**
   * The last step's loss and gradient norm, read back (the read submits the step and waits for it).
   * Call it once after each step: a norm that is not finite means the device skipped the update, and
   * the optimizer's step count goes back as the ordinary step's does (clipAndUpdate), so that later
   * bias corrections stay those of the ordinary steps.
   */
  async read(): Promise<{ loss: number; gradNorm: number }> {
    const [loss, norm] = await Promise.all([this.loss.data(), this.gradNorm.data()]);
    const gradNorm = norm[0]!;
    if (!Number.isFinite(gradNorm)) this.o.opt.step--;
    return { loss: loss[0]!, gradNorm };
  }

  /**
   * One step on this batch (one array per input, in the inputs' order and sizes). `key` names what
   * the step's launches bake in besides the inputs' contents (e.g. the count of scored positions a
   * mean loss divides by): a step with another key than the recording's is recorded anew.
   */
  step(data: readonly (Int32Array | Float32Array)[], key = ''): void {
    if (data.length !== this.inputs.length) throw new ArgumentError(`ReplayedTrainStep.step: ${data.length} inputs for ${this.inputs.length}`);
    data.forEach((d, i) => {
      const t = this.inputs[i]!;
      if (d.length !== t.size) throw new ArgumentError(`ReplayedTrainStep.step: input ${i} has ${d.length} values, expected ${t.size} (shape [${t.shape.join(', ')}])`);
      const src = tensor(d, t.shape, { dtype: t.dtype as 'i32' | 'f32', device: this.o.device });
      writeSlice(t, src, 0, 0);
      src.dispose();
    });
    this.o.opt.beginStep();
    if (this.graph && key !== this.recordedKey) {
      this.graph.dispose();
      this.graph = null;
    }
    if (this.graph) {
      this.graph.replay();
      this.o.opt.markReplayedStep();
      this.replayed++;
    } else if (this.plain || this.steps === 0) {
      this.run();
    } else {
      this.record(key);
    }
    this.steps++;
  }

  /**
   * The step's device work on the current inputs: forward, backward, the loss kept, clip and update,
   * gradients cleared. step() runs, records or replays it; public for benchmarks that capture the
   * launches themselves (bench/gpu-kernels.ts --train), after opt.beginStep().
   */
  run(): void {
    const l = this.o.lossOf(this.inputs);
    noGrad(() => tidy(() => writeSlice(this.loss, reshape(l, [1]), 0, 0)));
    backwardInto(l, this.seed);
    applyFusedAndClear(this.o.opt, this.o.params, this.maxNorm);
  }

  private record(key: string): void {
    const work = this.backend.recordWork!(() => this.run());
    if (work) {
      this.graph = work;
      this.recordedKey = key;
    } else {
      this.plain = true;
    }
  }

  dispose(): void {
    this.graph?.dispose();
    this.graph = null;
    for (const t of [...this.inputs, this.loss, this.seed]) t.dispose();
  }
}
