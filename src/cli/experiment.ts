/** `mamba-ts experiment`: the paper's synthetic tasks (selective copying, induction heads). */
import { InvalidArgumentError, type Command } from 'commander';
import { JSON_MAX_BYTES, readJsonObject } from '../io/json.js';
import { parseSyntheticConfig } from '../experiments/synthetic-config.js';
import { evaluateSynthetic, runSynthetic, type SyntheticResult } from '../experiments/run-synthetic.js';
import { printAbove, progressBar } from './progress.js';

const DEVICES = ['cpu', 'webgpu', 'auto'] as const;
type EvaluateDevice = (typeof DEVICES)[number];

function deviceFlag(v: string): EvaluateDevice {
  if (!(DEVICES as readonly string[]).includes(v)) throw new InvalidArgumentError(`--device must be one of ${DEVICES.join(', ')}, got "${v}"`);
  return v as EvaluateDevice;
}

function lengthList(v: string): number[] {
  const xs = v.split(',').map((x) => Number(x.trim()));
  if (!xs.length || !xs.every((x) => Number.isInteger(x) && x > 0)) throw new InvalidArgumentError(`--lengths must be positive integers separated by commas, got "${v}"`);
  return xs;
}

export function registerExperiment(program: Command): void {
  program
    .command('experiment')
    .description(
      'Train a Mamba (or, with model.selective = false, its LTI ablation) on a synthetic task and report accuracy per test length; results.json, the trained model (model/) and a checkpoint at every evaluation (checkpoint/, for --resume) go to outDir. Configs in experiments/ (paper-*.json: the paper\'s protocol). With --evaluate, measure a finished experiment\'s model again instead.',
    )
    .option('-c, --config <file>', 'experiment config (JSON): task, model, vocab, memorize, trainLength, steps, batchSize, schedule, lr, minLr, warmupSteps, weightDecay, gradClip, evalInterval, testLengths, testBatches, testBatchSize, seed, device, outDir, optional stops: stopAccuracy (0–1), maxSeconds, and initFrom: a trained model folder of the same architecture to start from')
    .option('--resume', 'continue from outDir/checkpoint exactly (same data order, random and optimizer state; maxSeconds is this run\'s budget, train_seconds the total); without a checkpoint there, start fresh. Only steps, maxSeconds, stopAccuracy, evalInterval, testLengths, testBatches, device and outDir may differ from the checkpoint\'s config. A run that had ended is tested again', false)
    .option('--overwrite', 'start from scratch even if outDir already holds a checkpoint, replacing it', false)
    .option('--evaluate <dir>', 'a finished experiment\'s outDir: load its model and config and measure the accuracy at its test lengths again')
    .option('--device <device>', 'with --evaluate: cpu, webgpu or auto', deviceFlag, 'cpu')
    .option('--lengths <list>', 'with --evaluate: only these of the experiment\'s test lengths (comma-separated), e.g. the short ones on a CPU', lengthList)
    .option('--quiet', 'no progress bar on stderr (stdout has the JSON lines either way)', false)
    .action(async (flags: { config?: string; evaluate?: string; device: EvaluateDevice; lengths?: number[]; resume: boolean; overwrite: boolean; quiet: boolean }) => {
      if ((flags.config === undefined) === (flags.evaluate === undefined)) throw new InvalidArgumentError('experiment: give either --config <file> (train) or --evaluate <dir> (measure a trained one)');
      if ((flags.resume || flags.overwrite) && flags.evaluate !== undefined) throw new InvalidArgumentError('experiment: --resume and --overwrite go with --config');
      if (flags.resume && flags.overwrite) throw new InvalidArgumentError('experiment: --resume and --overwrite contradict each other: choose one');
      if (flags.lengths !== undefined && flags.evaluate === undefined) throw new InvalidArgumentError('experiment: --lengths goes with --evaluate');
      if (flags.evaluate !== undefined) {
        const e = await evaluateSynthetic(flags.evaluate, flags.device, (line) => process.stdout.write(`${JSON.stringify(line)}\n`), flags.lengths);
        process.stdout.write(`${JSON.stringify({ evaluated: flags.evaluate, device: flags.device, accuracy: e.accuracy, recorded: e.recorded })}\n`);
        return;
      }
      const raw = await readJsonObject(flags.config!, { maxBytes: JSON_MAX_BYTES.config, what: 'an experiment config' });
      const c = parseSyntheticConfig(raw, flags.config!);
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
          { onStep: (step, _steps, loss) => bar?.update(step, { loss: loss.toFixed(4), accuracy }), resume: flags.resume, overwrite: flags.overwrite },
        );
      } finally {
        bar?.stop();
      }
      process.stdout.write(
        `${JSON.stringify({ task: r.task, selective: r.selective, params: r.params, steps: r.steps, stopped_by: r.stoppedBy, sequences_seen: r.sequencesSeen, device: r.device, train_seconds: +r.trainSeconds.toFixed(1), runs: r.runs, accuracy: r.accuracy })}\n`,
      );
    });
}
