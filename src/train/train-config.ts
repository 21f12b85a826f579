/** The `mamba-ts train` configuration file: every field checked, unknown fields rejected. */
import { FormatError } from '../errors.js';
import { unknownFieldsMessage } from '../options.js';
import { ConfigReader } from '../models/config-fields.js';
import { readOptimizerFields, type OptimizerFields } from './optimizer-fields.js';
import { relativeToFile } from '../io/relative-path.js';
import { BUILTIN_CORPUS_NAMES, builtinCorpusUrl } from './builtin-corpora.js';

export interface TrainConfig extends OptimizerFields {
  /** HF MambaConfig fields (vocab_size defaults to the corpus vocabulary). */
  model: Record<string, unknown>;
  /**
   * A text file (a path relative to the config file, or a URL) or a corpus shipped in the package
   * (`corpus`: 'tinyshakespeare'); read as characters, or through the HF tokenizer in the folder
   * `tokenizer`.
   */
  data: { path: string; validFraction: number; tokenizer?: string };
  steps: number;
  batchSize: number;
  /** Micro-batches whose gradients are summed (each loss scaled by 1/n) before one update. */
  gradAccumulation: number;
  seqLen: number;
  evalInterval: number;
  evalBatches: number;
  checkpointInterval: number;
  outDir: string;
  seed: number;
  device: 'cpu' | 'webgpu' | 'auto';
}

const DEFAULTS: Omit<TrainConfig, 'model' | 'data' | 'outDir'> = {
  steps: 1000,
  batchSize: 8,
  gradAccumulation: 1,
  seqLen: 128,
  lr: 3e-3,
  minLr: 3e-4,
  warmupSteps: 50,
  weightDecay: 0.1,
  gradClip: 1.0,
  evalInterval: 100,
  evalBatches: 4,
  checkpointInterval: 500,
  seed: 0,
  device: 'cpu',
};

export function parseTrainConfig(raw: unknown, source: string): TrainConfig {
  const fail = (m: string): never => {
    throw new FormatError(source, m);
  };
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail('expected a JSON object');
  const r = raw as Record<string, unknown>;
  const known = new Set([...Object.keys(DEFAULTS), 'model', 'data', 'outDir']);
  const unknown = Object.keys(r).filter((k) => !known.has(k));
  if (unknown.length) fail(unknownFieldsMessage(unknown, [...known]));
  const model = r['model'] ?? {};
  if (typeof model !== 'object' || model === null || Array.isArray(model)) fail('field "model": expected an object of HF MambaConfig fields');
  const data = r['data'] as Record<string, unknown> | undefined;
  const hasPath = typeof data?.['path'] === 'string' && data['path'] !== '';
  const hasCorpus = typeof data?.['corpus'] === 'string';
  if (!data || typeof data !== 'object' || hasPath === hasCorpus) {
    fail(
      `field "data": expected { "path": "corpus.txt" } (a file relative to this config, or a URL) or { "corpus": "${BUILTIN_CORPUS_NAMES.join('" | "')}" } (shipped with mamba-ts), with "validFraction"?: 0.1, "tokenizer"?: "folder with tokenizer.json"`,
    );
  }
  const unknownData = Object.keys(data!).filter((k) => !['path', 'corpus', 'validFraction', 'tokenizer'].includes(k));
  if (unknownData.length) fail(unknownFieldsMessage(unknownData, ['path', 'corpus', 'validFraction', 'tokenizer'], 'data.'));
  const corpusPath = (): string => {
    if (!hasCorpus) return relativeToFile(source, data!['path'] as string);
    try {
      return builtinCorpusUrl(data!['corpus'] as string);
    } catch (e) {
      return fail(`field "data.corpus": ${(e as Error).message.replace(/^data\.corpus: /, '')}`);
    }
  };
  if (data!['tokenizer'] !== undefined && (typeof data!['tokenizer'] !== 'string' || !data!['tokenizer'])) {
    fail('field "data.tokenizer": expected the folder of a tokenizer.json (e.g. GPT-NeoX\'s)');
  }
  const validFraction = data!['validFraction'] ?? 0.1;
  if (typeof validFraction !== 'number' || !(validFraction > 0 && validFraction < 1)) fail('field "data.validFraction": expected a number in (0, 1)');
  if (typeof r['outDir'] !== 'string' || !r['outDir']) fail('field "outDir": expected the folder for checkpoints');
  const cr = new ConfigReader(r, source);
  const int = (k: 'steps' | 'batchSize' | 'gradAccumulation' | 'seqLen' | 'evalInterval' | 'evalBatches' | 'checkpointInterval' | 'seed', min: number) =>
    cr.int(k, DEFAULTS[k], min);
  const steps = int('steps', 1);
  const device = r['device'] ?? DEFAULTS.device;
  if (device !== 'cpu' && device !== 'webgpu' && device !== 'auto') fail(`field "device": expected "cpu", "webgpu" or "auto", got ${JSON.stringify(device)}`);
  const c: TrainConfig = {
    model: model as Record<string, unknown>,
    data: {
      path: corpusPath(),
      validFraction: validFraction as number,
      ...(data!['tokenizer'] !== undefined ? { tokenizer: relativeToFile(source, data!['tokenizer'] as string) } : {}),
    },
    steps,
    batchSize: int('batchSize', 1),
    gradAccumulation: int('gradAccumulation', 1),
    seqLen: int('seqLen', 2),
    ...readOptimizerFields(cr, DEFAULTS, steps),
    evalInterval: int('evalInterval', 1),
    evalBatches: int('evalBatches', 1),
    checkpointInterval: int('checkpointInterval', 1),
    outDir: r['outDir'] as string,
    seed: int('seed', 0),
    device: device as TrainConfig['device'],
  };
  return c;
}
