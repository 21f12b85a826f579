/**
 * Llama's replayed decode step (see models/kv-decode-stepper.ts): attention reads its position and
 * each row's RoPE position from the device, so one recording serves every token until the KV
 * caches grow — the Transformer baseline decodes through the same engine as Mamba and Jamba.
 */
import type { TokenPicker } from '../../generation/causal-lm.js';
import type { DeviceName } from '../../backend/registry.js';
import { tensor } from '../../ops/create.js';
import { keep } from '../../tensor/memory.js';
import type { Tensor } from '../../tensor/tensor.js';
import { KvDecodeStepper } from '../kv-decode-stepper.js';
import type { RecordingBackend } from '../../backend/backend.js';
import type { LlamaCache } from './cache.js';
import type { LlamaForCausalLM } from './modeling.js';

export class LlamaDecodeStepper extends KvDecodeStepper<LlamaCache> {
  /** RoPE's inverse frequencies on the device, uploaded once, before any recording; the stepper's own. */
  private readonly invFreq: Tensor;

  constructor(model: LlamaForCausalLM, cache: LlamaCache, backend: RecordingBackend, pick: TokenPicker) {
    const invFreq = keep(tensor(model.invFreq, [model.invFreq.length], { device: model.device as DeviceName }));
    super(
      {
        device: model.device,
        kvCaches: (c) => model.kvCaches(c),
        nextPositions: (c) => model.nextPositions(c),
        stepAt: (ids, c, at) => model.stepAt(ids, c, at, invFreq),
      },
      cache,
      backend,
      pick,
    );
    this.invFreq = invFreq;
  }

  override dispose(): void {
    super.dispose();
    this.invFreq.dispose();
  }
}
