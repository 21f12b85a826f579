/** `mamba-ts train` for a config with `"task": "forecast"`: one line per epoch, then the test metrics. */
import { parseForecastConfig } from '../train/forecast-config.js';
import { runForecastTraining } from '../train/forecast-trainer.js';

export async function runForecastCommand(raw: unknown, source: string, flags: { quiet: boolean; overwrite: boolean }): Promise<void> {
  const c = parseForecastConfig(raw, source);
  const r = await runForecastTraining(c, {
    overwrite: flags.overwrite,
    onEpoch: (e) => {
      if (!flags.quiet) process.stdout.write(`epoch ${e.epoch}: lr ${e.lr.toExponential(2)} train MSE ${e.trainMse.toFixed(4)} val MSE ${e.valMse.toFixed(4)} (${e.seconds.toFixed(1)} s)\n`);
    },
  });
  process.stdout.write(
    `${r.model} L=${r.lookback} H=${r.horizon} on ${r.data}: test MSE ${r.test.mse.toFixed(4)} MAE ${r.test.mae.toFixed(4)} (${r.test.windows} windows; best epoch ${r.bestEpoch}; ${r.wallSeconds.toFixed(1)} s on ${r.device}); model ${r.modelDir}\n`,
  );
}
