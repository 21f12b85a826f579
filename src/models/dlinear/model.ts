/**
 * DLinear (Zeng et al. 2023, cure-lab/LTSF-Linear `models/DLinear.py`, shared across variates):
 *
 *   trend    = moving average of x over time (kernel k, the ends padded by repeating the first and
 *              last rows), seasonal = x − trend
 *   ŷ        = Linear_Seasonal(seasonal) + Linear_Trend(trend)       each L → H, along time
 *
 * The moving average is one product with a fixed (L, L) matrix, so a batch is three matmuls.
 */
import { ArgumentError, FormatError } from '../../errors.js';
import type { DeviceName } from '../../backend/registry.js';
import { ConfigReader } from '../config-fields.js';
import { checkBufferSize, SIZE_LIMITS as LIMIT } from '../size-limits.js';
import { Linear } from '../../nn/layers.js';
import { Module } from '../../nn/module.js';
import { add, matmul, reshape, sub, tensor, transpose } from '../../ops/index.js';
import { filled, RandomSource } from '../../ops/random.js';
import { keep, tidy } from '../../tensor/memory.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Forecaster } from '../../timeseries/forecaster.js';
import { uniformFanIn } from '../mambamixer/init.js';

export interface DLinearConfig {
  model_type: 'dlinear';
  lookback: number;
  horizon: number;
  n_vars: number;
  /** Moving-average kernel (odd; 25 in the paper). */
  moving_avg: number;
}

export function parseDLinearConfig(raw: Record<string, unknown>, source: string): DLinearConfig {
  const r = new ConfigReader(raw, source);
  const c: DLinearConfig = {
    model_type: 'dlinear',
    lookback: r.size('lookback', LIMIT.seriesLength),
    horizon: r.size('horizon', LIMIT.seriesLength),
    n_vars: r.size('n_vars', LIMIT.variates),
    moving_avg: r.size('moving_avg', LIMIT.seriesLength, 25),
  };
  if (c.moving_avg % 2 === 0) throw new FormatError(source, `field "moving_avg": expected an odd kernel, got ${c.moving_avg}`);
  // Bounded lookback and horizon keep the parameters (2 (L·H + H) < 2^33) under any total cap.
  checkBufferSize(c.lookback * c.lookback, source, 'the moving-average matrix (lookback × lookback)');
  return c;
}

/** Parameters of the DLinear this config describes: two Linear L → H. */
export function dlinearParameterCount(c: DLinearConfig): number {
  return 2 * (c.lookback * c.horizon + c.horizon);
}

/** (L, L) matrix A with trend = x · A for x (…, L): A[s, t] = (1/k)·#{j ∈ [−(k−1)/2, (k−1)/2] : clamp(t+j) = s}. */
export function movingAverageMatrix(L: number, k: number): Float32Array {
  const a = new Float32Array(L * L);
  const half = (k - 1) / 2;
  for (let t = 0; t < L; t++) for (let j = -half; j <= half; j++) a[Math.min(L - 1, Math.max(0, t + j)) * L + t]! += 1 / k;
  return a;
}

export class DLinear extends Module implements Forecaster {
  readonly Linear_Seasonal: Linear;
  readonly Linear_Trend: Linear;
  private avg: Tensor | null = null;

  constructor(
    readonly config: DLinearConfig,
    readonly device: DeviceName = 'cpu',
  ) {
    super();
    this.Linear_Seasonal = this.child('Linear_Seasonal', new Linear(config.lookback, config.horizon));
    this.Linear_Trend = this.child('Linear_Trend', new Linear(config.lookback, config.horizon));
  }

  /** TSLib's DLinear: weights 1/L (each head starts as the window mean), biases PyTorch's U(±1/√L). */
  initWeights(seed: number): void {
    const rng = new RandomSource(seed);
    const { lookback: L } = this.config;
    for (const l of [this.Linear_Seasonal, this.Linear_Trend]) {
      l.weight.set(filled(l.weight.shape, 1 / L, { device: this.device }));
      uniformFanIn(l.bias!, L, rng, this.device);
    }
  }

  forward(x: Tensor): Tensor {
    const { lookback: L, horizon: H, n_vars: M } = this.config;
    if (x.rank !== 3 || x.shape[1] !== L || x.shape[2] !== M) {
      throw new ArgumentError(`DLinear: input must be (B, L=${L}, M=${M}), got [${x.shape.join(', ')}]`);
    }
    this.avg ??= keep(tensor(movingAverageMatrix(L, this.config.moving_avg), [L, L], { device: this.device }));
    const avg = this.avg;
    return tidy(() => {
      const B = x.shape[0]!;
      const xt = reshape(transpose(x, [0, 2, 1]), [B * M, L]); // (B·M, L)
      const trend = matmul(xt, avg); // (B·M, L)
      const seasonal = sub(xt, trend);
      const y = add(this.Linear_Seasonal.forward(seasonal), this.Linear_Trend.forward(trend)); // (B·M, H)
      return transpose(reshape(y, [B, M, H]), [0, 2, 1]); // (B, H, M)
    });
  }

  toJSON(): Record<string, unknown> {
    return { ...this.config };
  }

  override dispose(): void {
    this.avg?.dispose();
    this.avg = null;
    super.dispose();
  }
}
