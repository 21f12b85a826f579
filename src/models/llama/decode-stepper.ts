/**
 * Llama's replayed decode step (see models/kv-decode-stepper.ts): attention reads its position and
 * each row's RoPE position from the device, so one recording serves every token until the KV
 * caches grow — the Transformer baseline decodes through the same engine as Mamba and Jamba.
 */
import type { LlamaCache } from './cache.js';
import { KvDecodeStepper } from '../kv-decode-stepper.js';

export class LlamaDecodeStepper extends KvDecodeStepper<LlamaCache> {}
