/**
 * The Selective Channel Mixer (v1 Eqs. 12–18): the same selective mixer applied to xᵀ, so the
 * sequence is the D channels and each channel's feature vector is its L token values. Always
 * bidirectional: one shared in_proj (its Linear acts on the token axis, size L), a conv + S6 for the
 * forward and one for the flipped channel order, one shared gate, summed, one out_proj.
 *
 *   forward(x: (B, L, D)) → (B, L, D)              mixes along D; parameters depend on L
 *   forwardChannelsFirst(xt: (B, D, L)) → (B, D, L) the same without the two transposes
 *
 * Each direction has its own conv1d, x_proj, dt_proj, A_log and D (Vim's pattern; the paper reuses
 * the symbols for both, which is ambiguous — docs/mambamixer.md).
 */
import { ArgumentError } from '../../errors.js';
import { transpose } from '../../ops/index.js';
import { tidy } from '../../tensor/memory.js';
import type { Tensor } from '../../tensor/tensor.js';
import { BACKWARD_SCAN, FORWARD_SCAN, SelectiveMixer, type SelectiveMixerOptions } from './selective-mixer.js';

export interface ChannelMixerOptions extends Omit<SelectiveMixerOptions, 'dModel' | 'scans'> {
  /** L: the token count, which is the feature size of the channel sequence. */
  tokens: number;
}

export class SelectiveChannelMixer extends SelectiveMixer {
  constructor(o: ChannelMixerOptions) {
    super({ ...o, dModel: o.tokens, scans: [FORWARD_SCAN, BACKWARD_SCAN] }, 'SelectiveChannelMixer');
  }

  /** x (B, L, D) → (B, L, D), mixing across the D channels in both directions. */
  override forward(x: Tensor): Tensor {
    if (x.rank !== 3 || x.shape[1] !== this.dims.dModel) {
      throw new ArgumentError(`SelectiveChannelMixer: input must be (B, L=${this.dims.dModel}, D), got [${x.shape.join(', ')}]`);
    }
    return tidy(() => transpose(super.forward(transpose(x, [0, 2, 1])), [0, 2, 1]));
  }

  /** xt (B, D, L): channels already on axis 1 → (B, D, L). */
  forwardChannelsFirst(xt: Tensor): Tensor {
    return super.forward(xt);
  }
}
