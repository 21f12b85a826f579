#!/usr/bin/env node
/** The `mamba-ts` command. Each subcommand lives in its own file. */
import { Command } from 'commander';
import { registerExperiment } from './experiment.js';
import { registerForecast } from './forecast.js';
import { registerGenerate } from './generate.js';
import { registerInfo } from './info.js';
import { registerTrain } from './train.js';

const program = new Command();
program
  .name('mamba-ts')
  .description('Selective state space models (Mamba) in TypeScript: run HuggingFace checkpoints on the CPU or WebGPU.')
  .version('0.1.0')
  .showHelpAfterError();
registerGenerate(program);
registerInfo(program);
registerTrain(program);
registerExperiment(program);
registerForecast(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  // Known errors (bad files, bad arguments) print one clear line, not a stack trace.
  const err = e as Error;
  process.stderr.write(`mamba-ts: ${err.message}\n`);
  if (process.env['MAMBA_TS_DEBUG']) process.stderr.write(`${err.stack}\n`);
  process.exitCode = 1;
}
