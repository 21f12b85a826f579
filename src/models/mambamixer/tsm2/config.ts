/**
 * TSM2's config.json. The paper gives no hyperparameters (v1 §6: "grid search", no values); the
 * defaults are those of the one public replication (n8thantran/mambamixer-replication, ETT):
 * patches 16 / stride 8, d_model 32, 2 layers, d_state 16, d_conv 4, expand 2.
 */
import { FormatError } from '../../../errors.js';
import { ConfigReader } from '../../config-fields.js';
import { checkBufferSize, checkParameterTotal, SIZE_LIMITS as LIMIT } from '../../size-limits.js';
import { denseAveragesParameters, layerNormParameters, linearParameters, selectiveMixerParameters } from '../parameter-count.js';

export interface TSM2Config {
  model_type: 'tsm2';
  /** L: input rows. */
  lookback: number;
  /** H: rows forecast. */
  horizon: number;
  /** M: variates. */
  n_vars: number;
  /** P and S: each variate's lookback is cut into N = ⌊(L − P)/S⌋ + 1 patches. */
  patch_len: number;
  patch_stride: number;
  /** d: patch embedding width (the token mixer's D; the variate mixer's feature size). */
  d_model: number;
  /** 𝓛: MambaMixer layers (each a time mixer and a variate mixer). */
  n_layers: number;
  d_state: number;
  d_conv: number;
  expand: number;
  /** RevIN with a learnable per-variate affine. */
  revin: boolean;
  norm_eps: number;
}

export const TSM2_FIELDS = ['lookback', 'horizon', 'n_vars', 'patch_len', 'patch_stride', 'd_model', 'n_layers', 'd_state', 'd_conv', 'expand', 'revin', 'norm_eps'] as const;

export function parseTSM2Config(raw: Record<string, unknown>, source: string): TSM2Config {
  const r = new ConfigReader(raw, source);
  const c: TSM2Config = {
    model_type: 'tsm2',
    lookback: r.size('lookback', LIMIT.seriesLength),
    horizon: r.size('horizon', LIMIT.seriesLength),
    n_vars: r.size('n_vars', LIMIT.variates),
    patch_len: r.size('patch_len', LIMIT.seriesLength, 16),
    patch_stride: r.size('patch_stride', LIMIT.seriesLength, 8),
    d_model: r.size('d_model', LIMIT.width, 32),
    n_layers: r.size('n_layers', LIMIT.layers, 2),
    d_state: r.size('d_state', LIMIT.stateSize, 16),
    d_conv: r.size('d_conv', LIMIT.convKernel, 4),
    expand: r.size('expand', LIMIT.expand, 2),
    revin: r.bool('revin', true),
    norm_eps: r.number('norm_eps', 1e-5, (x) => x > 0, 'a positive number'),
  };
  if (c.patch_len > c.lookback) throw new FormatError(source, `field "patch_len": ${c.patch_len} is longer than lookback ${c.lookback}`);
  checkParameterTotal(tsm2ParameterCount(c), source, TSM2_SIZE_FIELDS.map((k) => [k, c[k]]));
  checkBufferSize(c.lookback * patchCount(c) * c.patch_len, source, 'the patch matrix (lookback × patches × patch_len)');
  return c;
}

/** The fields that set the parameter count, named in errors about sizes. */
export const TSM2_SIZE_FIELDS = ['lookback', 'horizon', 'n_vars', 'patch_len', 'patch_stride', 'd_model', 'n_layers', 'd_state', 'expand'] as const;

/** Parameters of the TSM2 this config describes (model.ts's modules), from its fields alone. */
export function tsm2ParameterCount(c: TSM2Config): number {
  const N = patchCount(c);
  const d = c.d_model;
  const mixer = { dModel: d, expand: c.expand, dState: c.d_state, dConv: c.d_conv };
  const layer =
    2 * layerNormParameters(N * d) + // time_norm, variate_norm
    selectiveMixerParameters({ ...mixer, scans: 1 }) + // time_mixer
    selectiveMixerParameters({ ...mixer, scans: 2 }); // variate_mixer (bidirectional)
  return (
    (c.revin ? 2 * c.n_vars : 0) +
    linearParameters(c.patch_len, d) + // patch_embed
    N * d + // pos_embed
    c.n_layers * layer +
    denseAveragesParameters(c.n_layers) +
    linearParameters(N * d, c.horizon) // head
  );
}

/** N = ⌊(L − P)/S⌋ + 1. */
export function patchCount(c: TSM2Config): number {
  return Math.floor((c.lookback - c.patch_len) / c.patch_stride) + 1;
}
