/**
 * `mamba-ts info`: what a model folder (or a bare config.json) holds, without running it. Every
 * family is described from config.json's arithmetic: no model is built and no weights are read, so
 * a config of any size is described at once, or refused by the size bounds (models/size-limits.ts).
 */
import type { Command } from 'commander';
import { readConfig } from '../io/hf-folder.js';
import { JSON_MAX_BYTES, parseConfigJson } from '../io/json.js';
import { readText } from '../io/platform.js';
import { FormatError } from '../errors.js';
import { preview } from '../models/config-fields.js';
import { MambaConfig } from '../models/mamba/config.js';
import { describeModel, type ModelDescription } from '../models/describe.js';
import { Mamba2Config } from '../models/mamba2/config.js';
import { describeMamba2 } from '../models/mamba2/describe.js';
import { JambaConfig } from '../models/jamba/config.js';
import { jambaFootprint } from '../models/jamba/footprint.js';
import { LlamaConfig } from '../models/llama/config.js';
import { llamaFootprint } from '../models/llama/footprint.js';
import { deviceOption, intOption } from './options.js';
import { chooseDevice, describeDecision } from '../models/device-choice.js';
import { resolvePretrained, type HubOptions } from '../io/hub.js';
import { describeVim2 } from '../models/mambamixer/vim2-describe.js';
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
  return { raw: parseConfigJson(await readText(path, { maxBytes: JSON_MAX_BYTES.config, what: 'a config.json' }), path), source: path };
}

/** What one family prints: text lines, or the JSON object of --json. */
type Describer = (raw: Record<string, unknown>, source: string, flags: InfoFlags) => { json: unknown; lines: string[] };

const n6 = (x: number) => `${x.toLocaleString('en-US')} (${(x / 1e6).toFixed(2)}M)`;

function vim2(raw: Record<string, unknown>, source: string, flags: InfoFlags): { json: unknown; lines: string[] } {
  const d = describeVim2(raw, source);
  return {
    json: d,
    lines: [
      `model:            ${flags.model}`,
      'architecture:     Vim2ForImageClassification (model_type "vim2")',
      `parameters:       ${n6(d.parameters)}`,
      `token grids:      ${d.grids.map((g) => `${g}×${g}`).join(', ')}`,
      `token mixers:     ${n6(d.byKind.tokenMixers)}`,
      `channel mixers:   ${n6(d.byKind.channelMixers)}`,
      `averages:         ${d.byKind.weightedAverages}`,
      `other:            ${n6(d.byKind.other)} (stem, merging, norms, head)`,
      ...Object.entries(d.parts).map(([k, v]) => `  ${k.padEnd(16)}${n6(v)}`),
      ...(d.unknownConfigFields.length ? [`ignored config fields: ${d.unknownConfigFields.join(', ')}`] : []),
    ],
  };
}

function jamba(raw: Record<string, unknown>, source: string, flags: InfoFlags): { json: unknown; lines: string[] } {
  const c = JambaConfig.fromJSON(raw, source);
  const fp = jambaFootprint(c, flags.context, flags.kvBytes);
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
  return { json: { modelType: 'jamba', ...fp, unknownConfigFields: c.unknownFields }, lines };
}

function llama(raw: Record<string, unknown>, source: string, flags: InfoFlags): { json: unknown; lines: string[] } {
  const c = LlamaConfig.fromJSON(raw, source);
  const fp = llamaFootprint(c, flags.context, flags.kvBytes);
  const f = c.fields;
  const scaling = f.rope_scaling ? `, ${f.rope_scaling.rope_type} scaling × ${f.rope_scaling.factor}` : '';
  const lines = [
    `model:            ${flags.model}`,
    'architecture:     LlamaForCausalLM (model_type "llama"), a Transformer',
    `parameters:       ${billions(fp.parameters)}${f.tie_word_embeddings ? ' (lm_head tied to the embeddings)' : ''}`,
    `hidden size:      ${f.hidden_size}, vocabulary ${f.vocab_size}, MLP ${f.intermediate_size}`,
    `layers:           ${f.num_hidden_layers} × [RMSNorm → attention → residual, RMSNorm → SwiGLU MLP → residual]`,
    `attention:        ${f.num_attention_heads} query heads, ${f.num_key_value_heads} KV heads of ${f.head_dim}; RoPE θ ${f.rope_theta}${scaling}; trained context ${f.max_position_embeddings.toLocaleString('en-US')}`,
    `weights:          ${gib(fp.parameters * 4)} as float32 in memory`,
    `KV cache:         ${(fp.kvCacheBytesPerToken / 1024).toFixed(1)} KiB per token per sequence (${flags.kvBytes}-byte values); ${gib(fp.kvCacheBytes)} per sequence at ${flags.context.toLocaleString('en-US')} tokens`,
  ];
  if (c.unknownFields.length) lines.push(`ignored config fields: ${c.unknownFields.join(', ')}`);
  return { json: { modelType: 'llama', architecture: 'LlamaForCausalLM', ...fp, unknownConfigFields: c.unknownFields }, lines };
}

/** TSM2 and DLinear, from config.json alone like Jamba and ViM2: the weights are not needed to describe them. */
function forecaster(raw: Record<string, unknown>, source: string, flags: InfoFlags): { json: unknown; lines: string[] } {
  const d = describeForecaster(raw, source);
  return {
    json: d,
    lines: [
      `model:            ${flags.model}`,
      `architecture:     ${d.architecture} (model_type "${d.modelType}"), a forecasting model`,
      `parameters:       ${d.parameters.toLocaleString('en-US')}`,
      `forecast:         the next ${d.horizon} rows of ${d.variates} variates${d.columns ? ` (${d.columns.join(', ')})` : ''} from the last ${d.lookback}`,
      `config:           ${Object.entries(d.fields).map(([k, v]) => `${k} ${JSON.stringify(v)}`).join(', ')}`,
      `weights:          ${mib(d.weightBytes)} as float32`,
      ...(Object.keys(d.recorded).length ? [`recorded:         ${Object.entries(d.recorded).map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`).join(', ')}`] : []),
      `use:              mamba-ts forecast --model ${flags.model.endsWith('.json') ? 'DIR' : flags.model} --csv FILE (library: AutoModelForTimeSeriesForecasting)`,
    ],
  };
}

function mamba(raw: Record<string, unknown>, source: string, flags: InfoFlags): { json: unknown; lines: string[] } {
  return recurrentLM(describeModel(MambaConfig.fromJSON(raw, source), raw), flags);
}

function mamba2(raw: Record<string, unknown>, source: string, flags: InfoFlags): { json: unknown; lines: string[] } {
  return recurrentLM(describeMamba2(Mamba2Config.fromJSON(raw, source), raw), flags);
}

/** Mamba and Mamba-2: a constant decode state per sequence. */
function recurrentLM(d: ModelDescription, flags: InfoFlags): { json: unknown; lines: string[] } {
  return {
    json: d,
    lines: [
      `model:            ${flags.model}`,
      `architecture:     ${d.architecture} (model_type "${d.modelType}")`,
      `parameters:       ${d.parameters.toLocaleString('en-US')}${d.tiedEmbeddings ? ' (lm_head tied to the embeddings)' : ''}`,
      `hidden size:      ${d.hiddenSize}, vocabulary ${d.vocabSize}`,
      `layers:           ${d.numLayers}: ${d.layerLayout}`,
      `weights:          ${mib(d.weightBytes)} as float32 in memory (stored as ${d.storedDtype})`,
      `decode state:     ${mib(d.decodeStateBytesPerSequence)} per sequence, constant in the number of tokens`,
      ...d.details.map(([k, v]) => `${`${k}:`.padEnd(18)}${v}`),
      ...(d.unknownConfigFields.length ? [`ignored config fields: ${d.unknownConfigFields.join(', ')}`] : []),
    ],
  };
}

/** model_type → its describer: a Map, so that "constructor" or "__proto__" is an unknown type, not Object's. */
const DESCRIBERS: ReadonlyMap<string, Describer> = new Map([
  ['mamba', mamba],
  ['jamba', jamba],
  ['llama', llama],
  ['vim2', vim2],
  ['tsm2', forecaster],
  ['dlinear', forecaster],
  ['mamba2', mamba2],
]);

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description(
      'Describe a model from its config.json alone (nothing is loaded or built): architecture, parameters (total and active per token), layer layout, memory of the weights and of the decode state (a Transformer\'s KV cache per token and at --context tokens); forecasting models (TSM2, DLinear) with horizon, variates and recorded test metrics. Takes a folder, a Hub id or a bare config.json.',
    )
    .requiredOption('-m, --model <path|id>', 'HuggingFace model folder, a Hub id (owner/name, its config.json downloaded into the HF cache), or a config.json')
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
      // HF's MambaConfig is the default for a config.json without a model_type.
      const type = raw['model_type'] ?? 'mamba';
      const describe = typeof type === 'string' ? DESCRIBERS.get(type) : undefined;
      if (describe === undefined) {
        throw new FormatError(source, `unknown model_type ${preview(type)}; known: ${[...DESCRIBERS.keys()].join(', ')}`);
      }
      const d = describe(raw, source, flags);
      if (!flags.quiet) process.stderr.write(`${describeDecision(await chooseDevice(flags.device))}\n`);
      process.stdout.write(flags.json ? `${JSON.stringify(d.json, null, 2)}\n` : `${d.lines.join('\n')}\n`);
    });
}
