/** `mamba-ts serve`: the OpenAI-compatible HTTP server (see src/serve/ and docs/serve.md). */
import { basename } from 'node:path';
import type { Command } from 'commander';
import { AutoModelForCausalLM, type AnyCausalLM } from '../models/auto.js';
import { chooseDevice, describeDecision } from '../models/device-choice.js';
import { AutoTokenizer, type PreTrainedTokenizer } from '../io/tokenizer.js';
import { resolvePretrained } from '../io/hub.js';
import { chatFormatterFor } from '../serve/chat-template.js';
import { createServer } from '../serve/server.js';
import { BUNDLED_MODEL } from './generate.js';
import { deviceOption, intOption } from './options.js';
import { modelLoadProgress } from './progress.js';

interface ServeFlags {
  model: string;
  tokenizer?: string;
  revision?: string;
  name?: string;
  host: string;
  port: number;
  device: 'cpu' | 'webgpu' | 'auto';
  maxConcurrent: number;
  maxQueue?: number;
  maxTokens: number;
  maxPrompt: number;
  timeout: number;
  quiet: boolean;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description(
      'Serve a model over HTTP with the OpenAI API (/v1/completions, /v1/chat/completions, streaming too), /v1/models, /health and /metrics; concurrent requests are batched continuously (Mamba).',
    )
    .option('-m, --model <dir|id>', 'HuggingFace model folder or Hub id (as for generate); default: the bundled TinyShakespeare model', BUNDLED_MODEL)
    .option('-t, --tokenizer <dir|id>', "folder or Hub id with tokenizer.json (default: the model's); its chat template, if any, formats chat requests")
    .option('--revision <rev>', 'branch, tag or commit of a Hub model; default main')
    .option('--name <name>', "the model name clients pass as `model` (default: the folder's or Hub id's last part)")
    .option('--host <host>', 'address to listen on (0.0.0.0 for every interface)', '127.0.0.1')
    .option('--port <n>', 'port to listen on (0: any free port)', intOption('--port'), 8080)
    .option('--device <d>', 'cpu, webgpu or auto', deviceOption, 'cpu')
    .option('--max-concurrent <n>', 'sequences decoded together at most; more wait in the queue', intOption('--max-concurrent', 1), 16)
    .option('--max-queue <n>', 'requests waiting at most; beyond, 429 (default 4 × --max-concurrent)', intOption('--max-queue'))
    .option('--max-tokens <n>', 'max_tokens a request may ask for at most (also the default of chat requests)', intOption('--max-tokens', 1), 512)
    .option('--max-prompt <n>', 'prompt tokens at most', intOption('--max-prompt', 1), 4096)
    .option('--timeout <s>', 'time limit per request in seconds, waiting included (0: none)', intOption('--timeout'), 300)
    .option('-q, --quiet', 'print nothing on stderr but errors', false)
    .action(async (flags: ServeFlags) => {
      const decision = await chooseDevice(flags.device);
      const progress = modelLoadProgress({ quiet: flags.quiet });
      const hub = { revision: flags.revision, progressCallback: progress.callback };
      let model: AnyCausalLM;
      let tokenizer: PreTrainedTokenizer;
      let tokenizerDir: string;
      try {
        model = await AutoModelForCausalLM.fromPretrained(flags.model, { ...hub, device: decision.device });
        const tokenizerHub = flags.tokenizer === undefined ? hub : { progressCallback: progress.callback };
        try {
          tokenizerDir = await resolvePretrained(flags.tokenizer ?? flags.model, 'tokenizer', tokenizerHub);
          tokenizer = await AutoTokenizer.fromPretrained(tokenizerDir);
        } catch (e) {
          model.dispose();
          throw e;
        }
      } finally {
        progress.stop();
      }
      const chat = await chatFormatterFor(tokenizerDir);
      const name = flags.name ?? basename(flags.model.replace(/[\\/]+$/, ''));
      const server = createServer({
        model,
        tokenizer,
        modelName: name,
        chat,
        device: decision.device,
        maxConcurrent: flags.maxConcurrent,
        maxQueue: flags.maxQueue,
        maxTokens: flags.maxTokens,
        maxPromptTokens: flags.maxPrompt,
        timeoutMs: flags.timeout * 1000,
      });
      const address = await server.listen(flags.port, flags.host);
      const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      if (!flags.quiet) {
        process.stderr.write(`${describeDecision(decision)}\n`);
        process.stderr.write(
          `mamba-ts serve: http://${shown}:${address.port}/v1 serving '${name}' (${server.scheduler.decoder.mode === 'continuous' ? 'continuous batching' : 'one sequence per step'}, up to ${flags.maxConcurrent} at once; chat format: ${chat.kind === 'template' ? "the model's chat template" : 'fallback "role: content"'})\n`,
        );
      }
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          if (!flags.quiet) process.stderr.write('mamba-ts serve: shutting down\n');
          void server.close().then(resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      model.dispose();
    });
}
