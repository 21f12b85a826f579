/** `mamba-ts train`: trains a model from a JSON config, with a progress bar and checkpoints. */
import { SingleBar, Presets } from 'cli-progress';
import { InvalidArgumentError, type Command } from 'commander';
import { JSON_MAX_BYTES, readJsonObject } from '../io/json.js';
import { parseTrainConfig } from '../train/train-config.js';
import { runTraining } from '../train/trainer.js';
import { trainImageClassifier } from './train-image.js';
import { runForecastCommand } from './train-forecast.js';

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('Train a Mamba, Mamba-2 or Jamba language model (model.model_type: mamba, mamba2, jamba) on a text corpus (characters, or tokens with data.tokenizer), from a JSON config; checkpoints, a loss curve (SVG) and the tokenizer go to outDir. With "task": "forecast", a forecasting model (TSM2 or DLinear) on a CSV (docs/tsm2.md); with "task": "image-classification", a ViM2 on MNIST (docs/vim2.md).')
    .requiredOption('-c, --config <file>', 'training config (JSON): model, data, steps, batchSize, seqLen, lr, minLr, warmupSteps, weightDecay, gradClip, evalInterval, evalBatches, checkpointInterval, outDir, seed, device')
    .option('--resume', 'continue from outDir/checkpoint exactly (same data order and random state): the newest complete checkpoint, also one a crash left mid-save; a damaged one is refused', false)
    .option('--overwrite', 'start from scratch even if outDir already holds a checkpoint, replacing it', false)
    .option('--quiet', 'no progress bar, one line at the end', false)
    .action(async (flags: { config: string; resume: boolean; overwrite: boolean; quiet: boolean }) => {
      if (flags.resume && flags.overwrite) throw new InvalidArgumentError('--resume and --overwrite contradict each other: choose one');
      const raw = await readJsonObject(flags.config, { maxBytes: JSON_MAX_BYTES.config, what: 'a training config' });
      const task = raw['task'];
      if (task === 'image-classification') return trainImageClassifier(raw, flags);
      // "task": "forecast" (and any other task, which it refuses by name) trains a forecasting model.
      if (task !== undefined) return runForecastCommand(raw, flags.config, flags);
      const config = parseTrainConfig(raw, flags.config);
      const bar = flags.quiet
        ? null
        : new SingleBar({ format: 'step {value}/{total} |{bar}| loss {loss} | valid {valid} | {tps} tok/s | ETA {eta_formatted}', hideCursor: true }, Presets.shades_classic);
      bar?.start(config.steps, 0, { loss: '-', valid: '-', tps: '-' });
      let lastValid = '-';
      try {
        const r = await runTraining(config, {
          resume: flags.resume,
          overwrite: flags.overwrite,
          onProgress: (p) => {
            if (p.validLoss !== undefined) lastValid = p.validLoss.toFixed(4);
            bar?.update(p.step, { loss: p.loss.toFixed(4), valid: lastValid, tps: p.tokensPerSecond.toFixed(0) });
          },
        });
        bar?.stop();
        r.expertLoad?.forEach((fractions, i) => {
          process.stdout.write(`MoE layer ${i}: token fractions per expert ${fractions.map((f) => f.toFixed(3)).join(' ')} (balanced: ${(1 / fractions.length).toFixed(3)})\n`);
        });
        const what = r.stepsRun === r.steps ? `trained ${r.steps} steps` : r.stepsRun === 0 ? `already trained ${r.steps} steps (resumed at the end: nothing to do)` : `trained ${r.steps} steps (${r.stepsRun} in this run, resumed)`;
        process.stdout.write(`${what}; validation loss ${r.finalValidLoss.toFixed(4)} (${(r.finalValidLoss / Math.LN2).toFixed(4)} bits/${config.data.tokenizer ? 'token' : 'char'}); checkpoint ${r.checkpoint}\n`);
      } finally {
        bar?.stop();
      }
    });
}
