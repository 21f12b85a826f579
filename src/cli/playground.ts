/** `mamba-ts playground`: serves the browser playground (web/) and the shipped models on 127.0.0.1. */
import type { Command } from 'commander';
import { startPlayground } from './playground-server.js';
import { intOption } from './options.js';

export function registerPlayground(program: Command): void {
  program
    .command('playground')
    .description(
      'Serve the browser playground on 127.0.0.1: generate with the bundled Shakespeare model, see what its selection (Δ, B, C) picks per token, selective copying with S6 vs LTI, TSM2 forecasting on ETTh1, and training in the tab, on WebGPU or the CPU. Open the printed URL; Ctrl-C stops it.',
    )
    .option('-p, --port <port>', 'port to listen on (0: any free port)', intOption('--port', 0, 65535), 8080)
    .action(async (flags: { port: number }) => {
      const p = await startPlayground({ port: flags.port });
      process.stdout.write(`mamba-ts playground: ${p.url}\n`);
      await new Promise<void>((done) => {
        const stop = () => void p.close().then(done);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
