/**
 * Jamba's replayed decode step (see models/kv-decode-stepper.ts): attention layers read their
 * position from the device, MoE layers route on the device (SparseMoE.forwardStep), Mamba layers
 * write their states back into fixed buffers, so one recording serves every token until the KV
 * caches grow.
 */
import type { JambaCache } from './cache.js';
import { KvDecodeStepper } from '../kv-decode-stepper.js';

export class JambaDecodeStepper extends KvDecodeStepper<JambaCache> {}
