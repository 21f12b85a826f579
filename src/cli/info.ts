/** `mamba-ts info`: what a model folder (or a bare config.json) holds, without running it. */
import type { Command } from 'commander';
import { readConfig } from '../io/hf-folder.js';
import { JSON_MAX_BYTES, readJsonObject } from '../io/json.js';
import { MambaForCausalLM } from '../models/mamba/modeling.js';
import { describeModel } from '../models/describe.js';
import { JambaConfig } from '../models/jamba/config.js';
import { jambaFootprint } from '../models/jamba/footprint.js';
import { deviceOption, intOption } from './options.js';
import { chooseDevice, describeDecision } from '../models/device-choice.js';
import { resolvePretrained, type HubOptions } from '../io/hub.js';
import { describeVim2 } from '../models/mambamixer/vim2-describe.js';
import { createForecaster, FORECAST_MODEL_TYPES } from '../timeseries/models.js';
import { describeForecaster } from '../timeseries/describe.js';
import { modelLoadProgress } from './progress.js';

interface InfoFlags {
  model: string;
  revision?: string;
  json: boolean;
  context: number;
  kvBytes: number;
  device: 'cpu' | 'webgpu' | 'auto';
  quiet: boolean;
}

const gib = (b: number) => (b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(2)} GiB` : b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(2)} MiB` : `${(b / 1024).toFixed(1)} KiB`);
const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;
const billions = (n: number) => (n >= 1e8 ? `${n.toLocaleString('en-US')} (${(n / 1e9).toFixed(2)}B)` : n.toLocaleString('en-US'));

/** config.json of a folder or Hub id, or the file itself when `path` names a .json file. */
async function configAt(path: string, hub: HubOptions): Promise<{ raw: Record<string, unknown>; source: string }> {
  if (!path.endsWith('.json')) {
    const dir = await resolvePretrained(path, 'config', hub);
    return { raw: await readConfig(dir), source: `${dir}/config.json` };
  }
  return { raw: await readJsonObject(path, { maxBytes: JSON_MAX_BYTES.config, what: 'a config.json' }), source: path };
}

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description(
      'Describe a model: architecture, parameters (total and active per token), layer layout, memory of the weights and of the decode state. Jamba, ViM2 and forecasting models (TSM2, DLinear: horizon, variates, recorded test metrics) are described from config.json alone (a folder or a bare config.json).',
    )
    .requiredOption('-m, --model <path|id>', 'HuggingFace model folder, a Hub id (owner/name, downloaded into the HF cache), or a config.json (Jamba, ViM2, TSM2, DLinear)')
    .option('--revision <rev>', 'branch, tag or commit of a Hub model; default main')
    .option('--context <tokens>', 'context length for the decode-state memory of attention layers', intOption('--context', 1), 262144)
    .option('--kv-bytes <n>', 'bytes per KV-cache value (2 = 16-bit)', intOption('--kv-bytes', 1), 2)
    .option('--json', 'print JSON instead of text', false)
    .option('--device <d>', 'the device to report on: cpu, webgpu or auto (what auto would pick here)', deviceOption, 'cpu')
    .option('-q, --quiet', 'leave out the line on stderr that says which device would run the model', false)
    .action(async (flags: InfoFlags) => {
      const progress = modelLoadProgress({ quiet: flags.quiet });
      const hub: HubOptions = { revision: flags.revision, progressCallback: progress.callback };
      const { raw, source } = await configAt(flags.model, hub).finally(() => progress.stop());
      if (!flags.quiet) process.stderr.write(`${describeDecision(await chooseDevice(flags.device))}\n`);
      if (raw['model_type'] === 'vim2') {
        const d = describeVim2(raw, source);
        const n = (x: number) => `${x.toLocaleString('en-US')} (${(x / 1e6).toFixed(2)}M)`;
        process.stdout.write(flags.json ? `${JSON.stringify(d, null, 2)}\n` : `${[
          `model:            ${flags.model}`,
          'architecture:     Vim2ForImageClassification (model_type "vim2")',
          `parameters:       ${n(d.parameters)}`,
          `token grids:      ${d.grids.map((g) => `${g}×${g}`).join(', ')}`,
          `token mixers:     ${n(d.byKind.tokenMixers)}`,
          `channel mixers:   ${n(d.byKind.channelMixers)}`,
          `averages:         ${d.byKind.weightedAverages}`,
          `other:            ${n(d.byKind.other)} (stem, merging, norms, head)`,
          ...Object.entries(d.parts).map(([k, v]) => `  ${k.padEnd(16)}${n(v)}`),
          ...(d.unknownConfigFields.length ? [`ignored config fields: ${d.unknownConfigFields.join(', ')}`] : []),
        ].join('\n')}\n`);
        return;
      }
      if (raw['model_type'] === 'jamba') {
        const c = JambaConfig.fromJSON(raw, source);
        const fp = jambaFootprint(c, flags.context, flags.kvBytes);
        if (flags.json) {
          process.stdout.write(`${JSON.stringify({ modelType: 'jamba', ...fp, unknownConfigFields: c.unknownFields }, null, 2)}\n`);
          return;
        }
        const f = c.fields;
        const lines = [
          `model:            ${flags.model}`,
          `architecture:     JambaForCausalLM (model_type "jamba")`,
          `parameters:       ${billions(fp.parameters)} in total, ${billions(fp.activeParameters)} active per token (${f.num_experts_per_tok} of ${f.num_experts} experts)`,
          `layers:           ${f.num_hidden_layers}: attention at ${fp.attentionLayers.join(', ')} (1:${(f.num_hidden_layers - fp.attentionLayers.length) / Math.max(1, fp.attentionLayers.length)} attention:Mamba), MoE at ${fp.moeLayers.length} layers`,
          `attention:        ${f.num_attention_heads} query heads, ${f.num_key_value_heads} KV heads of ${c.headDim}, no positional encoding`,
          `KV cache:         ${gib(fp.kvCacheBytes)} at ${flags.context.toLocaleString('en-US')} tokens (${flags.kvBytes}-byte values); with attention in all ${f.num_hidden_layers} layers: ${gib(fp.allAttentionKvCacheBytes)}`,
          `Mamba state:      ${mib(fp.mambaStateBytes)} per sequence (float32), constant in the number of tokens`,
        ];
        if (c.unknownFields.length) lines.push(`ignored config fields: ${c.unknownFields.join(', ')}`);
        process.stdout.write(`${lines.join('\n')}\n`);
        return;
      }
      if (FORECAST_MODEL_TYPES.includes(raw['model_type'] as (typeof FORECAST_MODEL_TYPES)[number])) {
        // From config.json alone, like Jamba and ViM2: the weights are not needed to describe it.
        const m = createForecaster(raw, source, 'cpu');
        const d = describeForecaster(m, raw);
        m.dispose();
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(d, null, 2)}\n`);
          return;
        }
        const lines = [
          `model:            ${flags.model}`,
          `architecture:     ${d.architecture} (model_type "${d.modelType}"), a forecasting model`,
          `parameters:       ${d.parameters.toLocaleString('en-US')}`,
          `forecast:         the next ${d.horizon} rows of ${d.variates} variates${d.columns ? ` (${d.columns.join(', ')})` : ''} from the last ${d.lookback}`,
          `config:           ${Object.entries(d.fields).map(([k, v]) => `${k} ${JSON.stringify(v)}`).join(', ')}`,
          `weights:          ${mib(d.weightBytes)} as float32`,
          ...(Object.keys(d.recorded).length ? [`recorded:         ${Object.entries(d.recorded).map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`).join(', ')}`] : []),
          `use:              mamba-ts forecast --model ${flags.model.endsWith('.json') ? 'DIR' : flags.model} --csv FILE (library: AutoModelForTimeSeriesForecasting)`,
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
        return;
      }
      const model = await MambaForCausalLM.fromPretrained(flags.model, { ...hub, device: 'cpu' }).finally(() => progress.stop());
      const d = describeModel(model, raw);
      model.dispose();
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(d, null, 2)}\n`);
        return;
      }
      const lines = [
        `model:            ${flags.model}`,
        `architecture:     ${d.architecture} (model_type "${d.modelType}")`,
        `parameters:       ${d.parameters.toLocaleString('en-US')}${d.tiedEmbeddings ? ' (lm_head tied to the embeddings)' : ''}`,
        `hidden size:      ${d.hiddenSize}, vocabulary ${d.vocabSize}`,
        `layers:           ${d.numLayers}: ${d.layerLayout}`,
        `weights:          ${mib(d.weightBytes)} as float32 in memory (stored as ${d.storedDtype})`,
        `decode state:     ${mib(d.decodeStateBytesPerSequence)} per sequence, constant in the number of tokens`,
        ...d.details.map(([k, v]) => `${`${k}:`.padEnd(18)}${v}`),
      ];
      if (d.unknownConfigFields.length) lines.push(`ignored config fields: ${d.unknownConfigFields.join(', ')}`);
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
