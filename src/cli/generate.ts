/** `mamba-ts generate`: streams a continuation of a prompt. */
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { AutoModelForCausalLM, type AnyCausalLM } from '../models/auto.js';
import { chooseDevice, describeDecision } from '../models/device-choice.js';
import { AutoTokenizer, type PreTrainedTokenizer } from '../io/tokenizer.js';
import { TextStreamer } from '../generation/streamer.js';
import { deviceOption, floatOption, intOption } from './options.js';
import { modelLoadProgress } from './progress.js';

interface GenerateFlags {
  model: string;
  tokenizer?: string;
  revision?: string;
  maxNewTokens: number;
  sample: boolean;
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  repetitionPenalty: number;
  seed?: number;
  device: 'cpu' | 'webgpu' | 'auto';
  eos: boolean;
  quiet: boolean;
}

/**
 * The model that ships with the package (models/mamba-shakespeare: a 2.6M-parameter character
 * Mamba trained on TinyShakespeare with mamba-ts itself; its train.json is the exact config).
 */
export const BUNDLED_MODEL = fileURLToPath(new URL('../../../models/mamba-shakespeare', import.meta.url));

export function registerGenerate(program: Command): void {
  program
    .command('generate')
    .description('Continue a prompt with a model, printing text as it is generated.')
    .argument('<prompt>', 'the text to continue')
    .option(
      '-m, --model <dir|id>',
      'HuggingFace model folder (config.json, model.safetensors), or a Hub id such as state-spaces/mamba-130m-hf, downloaded into the HF cache (HF_HUB_CACHE, HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE=1 apply); default: the bundled TinyShakespeare model',
      BUNDLED_MODEL,
    )
    .option('-t, --tokenizer <dir|id>', 'folder or Hub id with tokenizer.json (default: the model\'s)')
    .option('--revision <rev>', 'branch, tag or commit of a Hub model (and of its tokenizer when --tokenizer is not given); default main')
    .option('-n, --max-new-tokens <n>', 'number of tokens to generate at most', intOption('--max-new-tokens'), 64)
    .option('--sample', 'sample from the distribution instead of taking the most likely token (greedy)', false)
    .option('--temperature <t>', 'divide logits by t before sampling (> 0)', floatOption('--temperature', (x) => x > 0, 'a number > 0'), 1)
    .option('--top-k <k>', 'sample among the k most likely tokens only (0: off)', intOption('--top-k'), 0)
    .option('--top-p <p>', 'sample from the smallest set of tokens with probability mass >= p (1: off)', floatOption('--top-p', (x) => x > 0 && x <= 1, 'in (0, 1]'), 1)
    .option('--min-p <p>', 'drop tokens with probability below p × the top probability (0: off)', floatOption('--min-p', (x) => x >= 0 && x <= 1, 'in [0, 1]'), 0)
    .option('--repetition-penalty <r>', 'divide the logits of tokens already seen by r (1: off)', floatOption('--repetition-penalty', (x) => x > 0, 'a number > 0'), 1)
    .option('--seed <n>', 'seed for reproducible sampling', intOption('--seed'))
    .option('--device <d>', 'cpu, webgpu or auto', deviceOption, 'cpu')
    .option('--no-eos', 'keep going after the end-of-sequence token')
    .option('-q, --quiet', 'print only the text (not the line on stderr that says which device ran)', false)
    .action(async (prompt: string, flags: GenerateFlags) => {
      const decision = await chooseDevice(flags.device);
      const progress = modelLoadProgress({ quiet: flags.quiet });
      const hub = { revision: flags.revision, progressCallback: progress.callback };
      let model: AnyCausalLM;
      let tokenizer: PreTrainedTokenizer;
      try {
        model = await AutoModelForCausalLM.fromPretrained(flags.model, { ...hub, device: decision.device });
        // --revision names the model's revision; a separate --tokenizer id is taken at its main.
        const tokenizerHub = flags.tokenizer === undefined ? hub : { progressCallback: progress.callback };
        tokenizer = await AutoTokenizer.fromPretrained(flags.tokenizer ?? flags.model, tokenizerHub).catch((e: unknown) => {
          model.dispose();
          throw e;
        });
      } finally {
        progress.stop();
      }
      if (!flags.quiet) process.stderr.write(`${describeDecision(decision)}\n`);
      const ids = tokenizer.encode(prompt);
      const streamer = new TextStreamer(tokenizer, { skipPrompt: true, onText: (t) => process.stdout.write(t) });
      process.stdout.write(prompt);
      await model.generate([ids], {
        maxNewTokens: flags.maxNewTokens,
        doSample: flags.sample,
        temperature: flags.temperature,
        topK: flags.topK,
        topP: flags.topP,
        minP: flags.minP,
        repetitionPenalty: flags.repetitionPenalty,
        seed: flags.seed,
        eosTokenId: flags.eos ? undefined : null,
        streamer,
      });
      process.stdout.write('\n');
      model.dispose();
    });
}
