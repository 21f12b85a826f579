/** The `mamba-ts` command's subcommands (each in its own file), parsed and run. */
import { Command } from 'commander';
import { registerExperiment } from './experiment.js';
import { registerForecast } from './forecast.js';
import { registerGenerate } from './generate.js';
import { registerInfo } from './info.js';
import { registerPlayground } from './playground.js';
import { registerServe } from './serve.js';
import { registerTrain } from './train.js';

/** Runs the command line; resolves to the exit code. */
export async function runCli(argv: string[]): Promise<number> {
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
  registerServe(program);
  registerPlayground(program);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    // Known errors (bad files, bad arguments) print one clear line, not a stack trace.
    const err = e as Error;
    process.stderr.write(`mamba-ts: ${err.message}\n`);
    if (process.env['MAMBA_TS_DEBUG']) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}
