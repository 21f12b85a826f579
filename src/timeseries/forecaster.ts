/**
 * What every forecasting model shares: x (B, L, M) → ŷ (B, H, M) on the standardised scale, and a
 * config.json whose `model_type` picks the family. Models: TSM2 (models/mambamixer/tsm2) and
 * DLinear (models/dlinear).
 */
import type { Module } from '../nn/module.js';
import type { Tensor } from '../tensor/tensor.js';

export interface ForecasterConfig {
  model_type: string;
  /** L: input rows. */
  lookback: number;
  /** H: rows forecast. */
  horizon: number;
  /** M: variates (columns). */
  n_vars: number;
}

export interface Forecaster extends Module {
  readonly config: ForecasterConfig;
  /** x (B, L, M) → (B, H, M). */
  forward(x: Tensor): Tensor;
  /** Fresh weights from a seed (training from scratch). */
  initWeights(seed: number): void;
  /** The config as written to config.json. */
  toJSON(): Record<string, unknown>;
}
