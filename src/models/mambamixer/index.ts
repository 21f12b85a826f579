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
export { CrossScanTokenMixer, DepthwiseConv2d, type CrossScanTokenMixerOptions } from './vim2-token-mixer.js';
export { crossScans } from './cross-scan.js';
export { Vim2Config, VIM2_PRESETS, type Vim2Fields } from './vim2-config.js';
export { Vim2ForImageClassification, Vim2Stage, Vim2Block, PatchEmbed, PatchMerging, initVim2Weights } from './vim2.js';
export { describeVim2, type Vim2Description } from './vim2-describe.js';
