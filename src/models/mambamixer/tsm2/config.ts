/**
 * TSM2's config.json. The paper gives no hyperparameters (v1 §6: "grid search", no values); the
 * defaults are those of the one public replication (n8thantran/mambamixer-replication, ETT):
 * patches 16 / stride 8, d_model 32, 2 layers, d_state 16, d_conv 4, expand 2.
 */
import { FormatError } from '../../../errors.js';
import { ConfigReader } from '../../config-fields.js';

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
    lookback: r.int('lookback'),
    horizon: r.int('horizon'),
    n_vars: r.int('n_vars'),
    patch_len: r.int('patch_len', 16),
    patch_stride: r.int('patch_stride', 8),
    d_model: r.int('d_model', 32),
    n_layers: r.int('n_layers', 2),
    d_state: r.int('d_state', 16),
    d_conv: r.int('d_conv', 4),
    expand: r.int('expand', 2),
    revin: r.bool('revin', true),
    norm_eps: r.number('norm_eps', 1e-5, (x) => x > 0, 'a positive number'),
  };
  if (c.patch_len > c.lookback) throw new FormatError(source, `field "patch_len": ${c.patch_len} is longer than lookback ${c.lookback}`);
  return c;
}

/** N = ⌊(L − P)/S⌋ + 1. */
export function patchCount(c: TSM2Config): number {
  return Math.floor((c.lookback - c.patch_len) / c.patch_stride) + 1;
}
