/** `mamba-ts info`: what a model folder holds, without running it. */
import type { Command } from 'commander';
import { readConfig } from '../io/hf-folder.js';
import { AutoModelForCausalLM } from '../models/auto.js';
import { describeModel } from '../models/describe.js';

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('Describe a model: architecture, parameter count, layer layout, memory of the weights and of the decode state.')
    .requiredOption('-m, --model <dir>', 'HuggingFace model folder')
    .option('--json', 'print JSON instead of text', false)
    .action(async (flags: { model: string; json: boolean }) => {
      const raw = await readConfig(flags.model);
      const model = await AutoModelForCausalLM.fromPretrained(flags.model, { device: 'cpu' });
      const d = describeModel(model, raw);
      model.dispose();
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(d, null, 2)}\n`);
        return;
      }
      const mb = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;
      const lines = [
        `model:            ${flags.model}`,
        `architecture:     ${d.architecture} (model_type "${d.modelType}")`,
        `parameters:       ${d.parameters.toLocaleString('en-US')}${d.tiedEmbeddings ? ' (lm_head tied to the embeddings)' : ''}`,
        `hidden size:      ${d.hiddenSize}, vocabulary ${d.vocabSize}`,
        `layers:           ${d.numLayers}: ${d.layerLayout}`,
        `weights:          ${mb(d.weightBytes)} as float32 in memory (stored as ${d.storedDtype})`,
        `decode state:     ${mb(d.decodeStateBytesPerSequence)} per sequence, constant in the number of tokens`,
        ...d.details.map(([k, v]) => `${`${k}:`.padEnd(18)}${v}`),
      ];
      if (d.unknownConfigFields.length) lines.push(`ignored config fields: ${d.unknownConfigFields.join(', ')}`);
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
