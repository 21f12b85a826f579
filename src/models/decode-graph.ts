/**
 * Whether a model's decode steps may be recorded once and replayed (the steppers in
 * models/mamba/decode-stepper.ts and models/kv-decode-stepper.ts): only where the backend records
 * device work (WebGPU), and not when MAMBA_TS_DECODE_GRAPH=0 turns replay off, for comparison.
 */
import { envSwitch } from '../env.js';
import type { Backend, RecordingBackend } from '../backend/backend.js';
import type { TokenPicker } from '../generation/causal-lm.js';
import { writeSlice } from '../ops/shape.js';
import { tidy } from '../tensor/memory.js';
import type { Tensor } from '../tensor/tensor.js';

export function replayBackend(backend: Backend): RecordingBackend | null {
  const off = envSwitch('MAMBA_TS_DECODE_GRAPH') === '0';
  return off || !backend.recordWork ? null : (backend as RecordingBackend);
}

/**
 * The feedback of a decode step: the token picked from `logits` (which are disposed) written over
 * the step's input ids, so that the next step (or replay) reads them from the same buffer.
 */
export function pickInto(ids: Tensor, logits: Tensor, pick: TokenPicker): void {
  const next = tidy(() => pick(logits));
  logits.dispose();
  writeSlice(ids, next, 1, 0);
  next.dispose();
}
