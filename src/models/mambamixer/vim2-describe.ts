/** What `mamba-ts info` says of a ViM2 config: parameter counts taken from the module itself (no weights allocated). */
import { Vim2Config } from './vim2-config.js';
import { Vim2ForImageClassification } from './vim2.js';

export interface Vim2Description {
  modelType: 'vim2';
  parameters: number;
  /** Per top-level part: patch_embed, stages.<s> (with its downsampling), norm, head. */
  parts: Record<string, number>;
  /** Of all stages: token mixers, channel mixers, weighted averages, norms and merging. */
  byKind: { tokenMixers: number; channelMixers: number; weightedAverages: number; other: number };
  grids: number[];
  unknownConfigFields: string[];
}

export function describeVim2(raw: Record<string, unknown>, source: string): Vim2Description {
  const config = Vim2Config.fromJSON(raw, source);
  // Parameters are shapes until initialised, so even Base is counted without allocating it.
  const model = new Vim2ForImageClassification(config);
  const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
  const parts: Record<string, number> = {};
  const byKind = { tokenMixers: 0, channelMixers: 0, weightedAverages: 0, other: 0 };
  for (const [name, p] of model.namedParameters()) {
    const n = size(p.shape);
    const part = name.startsWith('stages.') ? name.split('.').slice(0, 2).join('.') : name.split('.')[0]!;
    parts[part] = (parts[part] ?? 0) + n;
    if (/\.token_blocks\.\d+\.mixer\./.test(name)) byKind.tokenMixers += n;
    else if (/\.channel_blocks\.\d+\.mixer\./.test(name)) byKind.channelMixers += n;
    else if (/\.averages\./.test(name)) byKind.weightedAverages += n;
    else byKind.other += n;
  }
  return { modelType: 'vim2', parameters: model.parameterCount(), parts, byKind, grids: config.grids, unknownConfigFields: config.unknownFields };
}
