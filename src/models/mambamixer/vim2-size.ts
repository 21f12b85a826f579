/**
 * ViM2's parameters from its config alone (vim2.ts's modules, counted without building them), per
 * top-level part and per kind: what `mamba-ts info` prints and what bounds a config.
 */
import type { Vim2Config } from './vim2-config.js';
import { denseAveragesParameters, layerNormParameters, linearParameters, selectiveMixerParameters } from './parameter-count.js';

export interface Vim2Size {
  parameters: number;
  /** Per top-level part: patch_embed, stages.<s> (with its downsampling), norm, head. */
  parts: Record<string, number>;
  /** Of all stages: token mixers, channel mixers, weighted averages; `other` is the rest. */
  byKind: { tokenMixers: number; channelMixers: number; weightedAverages: number; other: number };
}

export function vim2Size(config: Vim2Config): Vim2Size {
  const f = config.fields;
  const grids = config.grids;
  const parts: Record<string, number> = {};
  const byKind = { tokenMixers: 0, channelMixers: 0, weightedAverages: 0, other: 0 };
  const add = (part: string, kind: keyof Vim2Size['byKind'], n: number) => {
    parts[part] = (parts[part] ?? 0) + n;
    byKind[kind] += n;
  };
  const C0 = f.dims[0]!;
  add('patch_embed', 'other', C0 * f.in_channels * f.patch_size ** 2 + C0 + layerNormParameters(C0)); // p×p conv, its bias, norm
  f.dims.forEach((C, s) => {
    const part = `stages.${s}`;
    const G = grids[s]!;
    if (s > 0) {
      const before = f.dims[s - 1]!;
      add(part, 'other', layerNormParameters(4 * before) + linearParameters(4 * before, C, false)); // patch merging
    }
    const E = f.expand * C;
    const tokenMixer =
      selectiveMixerParameters({ dModel: C, expand: f.expand, dState: f.d_state, dConv: 0, scans: 4 }) + // four cross-scans
      E * f.conv_kernel ** 2 + E; // the depthwise 2-D conv and its bias
    const channelMixer = selectiveMixerParameters({ dModel: G * G, expand: f.channel_expand, dState: f.d_state, dConv: f.channel_conv_kernel, scans: 2 });
    const blocks = f.depths[s]! + f.channel_depths[s]!;
    add(part, 'other', blocks * layerNormParameters(C)); // each block's pre-norm
    add(part, 'tokenMixers', f.depths[s]! * tokenMixer);
    add(part, 'channelMixers', f.channel_depths[s]! * channelMixer);
    add(part, 'weightedAverages', denseAveragesParameters(f.channel_depths[s]!));
  });
  const last = f.dims[f.dims.length - 1]!;
  add('norm', 'other', layerNormParameters(last));
  add('head', 'other', linearParameters(last, f.num_classes));
  const parameters = Object.values(parts).reduce((a, b) => a + b, 0);
  return { parameters, parts, byKind };
}
