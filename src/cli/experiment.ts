/** `mamba-ts experiment`: the paper's synthetic tasks (selective copying, induction heads). */
import type { Command } from 'commander';
import { FormatError } from '../errors.js';
import { readText } from '../io/platform.js';
import { parseSyntheticConfig } from '../experiments/synthetic-config.js';
import { runSynthetic } from '../experiments/run-synthetic.js';

export function registerExperiment(program: Command): void {
  program
    .command('experiment')
    .description('Train a Mamba (or, with model.selective = false, its LTI ablation) on a synthetic task and report accuracy per test length; results.json goes to outDir. Configs in experiments/.')
    .requiredOption('-c, --config <file>', 'experiment config (JSON): task, model, vocab, memorize, trainLength, steps, batchSize, lr, minLr, warmupSteps, weightDecay, gradClip, evalInterval, testLengths, testBatches, testBatchSize, seed, device, outDir')
    .action(async (flags: { config: string }) => {
      let raw: unknown;
      try {
        raw = JSON.parse(await readText(flags.config));
      } catch (e) {
        if (e instanceof SyntaxError) throw new FormatError(flags.config, `not valid JSON: ${e.message}`);
        throw e;
      }
      const c = parseSyntheticConfig(raw, flags.config);
      const r = await runSynthetic(c, (line) => process.stdout.write(`${JSON.stringify(line)}\n`));
      process.stdout.write(`${JSON.stringify({ task: r.task, selective: r.selective, params: r.params, steps: r.steps, train_seconds: +r.trainSeconds.toFixed(1), accuracy: r.accuracy })}\n`);
    });
}
