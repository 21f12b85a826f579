/**
 * Whether a model's decode steps may be recorded once and replayed (the steppers in
 * models/mamba/decode-stepper.ts and models/kv-decode-stepper.ts): only where the backend records
 * device work (WebGPU), and not when MAMBA_TS_DECODE_GRAPH=0 turns replay off, for comparison.
 */
import { envSwitch } from '../env.js';
import type { Backend, RecordingBackend } from '../backend/backend.js';

export function replayBackend(backend: Backend): RecordingBackend | null {
  const off = envSwitch('MAMBA_TS_DECODE_GRAPH') === '0';
  return off || !backend.recordWork ? null : (backend as RecordingBackend);
}
