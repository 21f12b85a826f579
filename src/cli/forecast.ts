/**
 * `mamba-ts forecast`: the next H steps of every column of a CSV from its last lookback rows, with a
 * trained TSM2 / DLinear folder; writes a CSV and optionally an SVG plot. `--evaluate` instead
 * recomputes the model's test MSE / MAE under the protocol it was trained with.
 */
import type { Command } from 'commander';
import { ArgumentError } from '../errors.js';
import { checkWriteTarget, readText, writeBytesAtomic } from '../io/platform.js';
import { resolveDevice } from '../models/auto.js';
import { parseSeriesCsv } from '../timeseries/csv.js';
import { forecastSplits } from '../timeseries/dataset.js';
import { forecastCsv, forecastTable, readCsvForModel } from '../timeseries/forecast.js';
import { loadForecaster } from '../timeseries/models.js';
import { forecastSvg } from '../timeseries/plot.js';
import { evaluateForecaster, type ForecastMetrics } from '../train/forecast-trainer.js';
import { progressBar } from './progress.js';
import { deviceOption, intOption } from './options.js';

interface Flags {
  model: string;
  csv: string;
  horizon?: number;
  end?: number;
  out: string;
  plot?: string;
  evaluate: boolean;
  device: 'cpu' | 'webgpu' | 'auto';
  quiet: boolean;
}

export function registerForecast(program: Command): void {
  program
    .command('forecast')
    .description('Forecast the next H steps of every column of a CSV with a trained forecasting model (TSM2, DLinear), from its last lookback rows; writes a CSV and an SVG plot (history, forecast, and the truth when the file has rows after the window).')
    .requiredOption('--model <dir>', 'a model folder written by `mamba-ts train` with "task": "forecast" (config.json + model.safetensors)')
    .requiredOption('--csv <file>', "a CSV with a date column then the model's variate columns")
    .option('--horizon <H>', "steps to forecast (at most the model's horizon; default: the model's)", intOption('--horizon', 1))
    .option('--end <row>', 'use the lookback rows before this data row (0-based; default: the end of the file); later rows are the truth', intOption('--end', 0))
    .option('--out <file>', 'where the forecast CSV goes (written whole or not at all; through a symbolic link; a device, FIFO or folder is refused)', 'forecast.csv')
    .option('--plot <file.svg>', 'also draw the forecast as SVG')
    .option('--evaluate', "print the test MSE / MAE (standardised scale, every test window) under the model's training split, and the value recorded at training", false)
    .option('--device <name>', 'cpu | webgpu | auto', deviceOption, 'cpu')
    .option('--quiet', 'no progress bar on stderr while --evaluate runs', false)
    .action(async (flags: Flags) => {
      // Refused before any work: an --out that is a device, a FIFO or a folder (a link is written through).
      if (!flags.evaluate) for (const out of [flags.out, flags.plot]) if (out !== undefined) await checkWriteTarget(out, 'file');
      const device = await resolveDevice(flags.device);
      const { model, meta } = await loadForecaster(flags.model, device);
      try {
        const text = await readText(flags.csv);
        if (flags.evaluate) {
          const table = parseSeriesCsv(text, flags.csv, { columns: meta.columns });
          const data = forecastSplits(table, flags.csv, model.config.lookback, model.config.horizon, meta.split);
          const bar = progressBar('evaluating |{bar}| {value}/{total} test windows | ETA {eta_formatted}', { quiet: flags.quiet });
          bar?.start(data.test.count, 0);
          let test: ForecastMetrics;
          try {
            test = await evaluateForecaster(model, data.test, 256, { onProgress: (done) => bar?.update(done) });
          } finally {
            bar?.stop();
          }
          const recorded = meta['test_mse'];
          process.stdout.write(
            `${model.config.model_type} L=${model.config.lookback} H=${model.config.horizon}: test MSE ${test.mse.toFixed(4)} MAE ${test.mae.toFixed(4)} over ${test.windows} windows` +
              (typeof recorded === 'number' ? ` (recorded at training: MSE ${recorded.toFixed(4)})` : '') + '\n',
          );
          return;
        }
        const table = readCsvForModel(text, flags.csv, meta);
        const f = await forecastTable(model, meta, table, flags.csv, { horizon: flags.horizon, end: flags.end });
        await writeBytesAtomic(flags.out, forecastCsv(f));
        if (flags.plot) {
          if (!flags.plot.endsWith('.svg')) throw new ArgumentError(`forecast: --plot writes SVG; give a file ending in .svg, got ${flags.plot}`);
          await writeBytesAtomic(flags.plot, forecastSvg(f));
        }
        process.stdout.write(`forecast ${f.horizon} steps × ${f.columns.length} columns → ${flags.out}${flags.plot ? ` and ${flags.plot}` : ''}${f.truthIndex.length ? ` (truth for ${f.truthIndex.length} steps)` : ''}\n`);
      } finally {
        model.dispose();
      }
    });
}
