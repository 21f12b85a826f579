/** MambaMixer (arXiv 2403.19888 v1): the selective token and channel mixers and the weighted averaging of earlier features. */
export { SelectiveScanBranch, type ScanBranchDims } from './scan-branch.js';
export {
  SelectiveMixer,
  FORWARD_SCAN,
  BACKWARD_SCAN,
  selectiveMixerDims,
  type ScanOrder,
  type SelectiveMixerOptions,
  type SelectiveMixerDims,
} from './selective-mixer.js';
export { SelectiveTokenMixer, type TokenMixerOptions } from './token-mixer.js';
export { SelectiveChannelMixer, type ChannelMixerOptions } from './channel-mixer.js';
export { WeightedAverage, DenseMixerAverages, type DenseMixerTrace } from './weighted-average.js';
export { initSelectiveMixer, initLinear, uniformFanIn } from './init.js';
