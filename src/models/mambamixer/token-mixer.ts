/**
 * The Selective Token Mixer (v1 Eqs. 6–11): a Mamba block along the token axis. Unidirectional
 * (causal) by default, as TSM2's time mixer [P §5.1]; pass `scans` for other orders (ViM2).
 *
 *   forward(x: (B, L, D)) → (B, L, D)
 */
import { SelectiveMixer, type SelectiveMixerOptions } from './selective-mixer.js';

export type TokenMixerOptions = SelectiveMixerOptions;

export class SelectiveTokenMixer extends SelectiveMixer {
  constructor(o: TokenMixerOptions) {
    super(o, 'SelectiveTokenMixer');
  }
}
