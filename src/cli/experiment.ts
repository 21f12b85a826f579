/** `mamba-ts experiment`: the paper's synthetic tasks (selective copying, induction heads). */
import type { Command } from 'commander';
import { JSON_MAX_BYTES, readJsonObject } from '../io/json.js';
import { parseSyntheticConfig } from '../experiments/synthetic-config.js';
import { runSynthetic, type SyntheticResult } from '../experiments/run-synthetic.js';
import { printAbove, progressBar } from './progress.js';

export function registerExperiment(program: Command): void {
  program
    .command('experiment')
    .description('Train a Mamba (or, with model.selective = false, its LTI ablation) on a synthetic task and report accuracy per test length; results.json goes to outDir. Configs in experiments/.')
    .requiredOption('-c, --config <file>', 'experiment config (JSON): task, model, vocab, memorize, trainLength, steps, batchSize, lr, minLr, warmupSteps, weightDecay, gradClip, evalInterval, testLengths, testBatches, testBatchSize, seed, device, outDir')
    .option('--quiet', 'no progress bar on stderr (stdout has the JSON lines either way)', false)
    .action(async (flags: { config: string; quiet: boolean }) => {
      const raw = await readJsonObject(flags.config, { maxBytes: JSON_MAX_BYTES.config, what: 'an experiment config' });
      const c = parseSyntheticConfig(raw, flags.config);
      // stdout carries one JSON object per line; the bar goes to stderr and never mixes into it.
      const bar = progressBar('step {value}/{total} |{bar}| loss {loss} | accuracy {accuracy} | ETA {eta_formatted}', { quiet: flags.quiet });
      let accuracy = '-';
      bar?.start(c.steps, 0, { loss: '-', accuracy });
      let r: SyntheticResult;
      try {
        r = await runSynthetic(
          c,
          (line) => {
            if (typeof line['accuracy'] === 'number' && line['step'] !== undefined) {
              accuracy = line['accuracy'].toFixed(4);
              bar?.update({ accuracy });
            }
            printAbove(bar, `${JSON.stringify(line)}\n`);
          },
          { onStep: (step, _steps, loss) => bar?.update(step, { loss: loss.toFixed(4), accuracy }) },
        );
      } finally {
        bar?.stop();
      }
      process.stdout.write(`${JSON.stringify({ task: r.task, selective: r.selective, params: r.params, steps: r.steps, train_seconds: +r.trainSeconds.toFixed(1), accuracy: r.accuracy })}\n`);
    });
}
