/** What `mamba-ts info` says of a ViM2 config: parameter counts from the config's arithmetic (nothing is built). */
import { Vim2Config } from './vim2-config.js';
import { vim2Size, type Vim2Size } from './vim2-size.js';

export interface Vim2Description {
  modelType: 'vim2';
  parameters: number;
  /** Per top-level part: patch_embed, stages.<s> (with its downsampling), norm, head. */
  parts: Vim2Size['parts'];
  /** Of all stages: token mixers, channel mixers, weighted averages, norms and merging. */
  byKind: Vim2Size['byKind'];
  grids: number[];
  unknownConfigFields: string[];
}

export function describeVim2(raw: Record<string, unknown>, source: string): Vim2Description {
  const config = Vim2Config.fromJSON(raw, source);
  const { parameters, parts, byKind } = vim2Size(config);
  return { modelType: 'vim2', parameters, parts, byKind, grids: config.grids, unknownConfigFields: config.unknownFields };
}
