/**
 * HuggingFace model folders: `config.json` plus `model.safetensors`, or plus
 * `model.safetensors.index.json` and the shards it names. `dir` is a Node path or, in browsers, a URL;
 * all I/O goes through platform.ts.
 */

import { ArgumentError, FormatError } from '../errors.js';
import { exists, joinPath, readBytes, removeFile, removeStaleTemps, writeBytesAtomic } from './platform.js';
import type { ReadOptions } from './read-options.js';
import { SafetensorsFile, serializeSafetensors, tensorByteLength } from './safetensors.js';
import type { SafetensorsEntry, TensorToWrite } from './safetensors.js';
import { JSON_MAX_BYTES, parseConfigJson, parseJsonObject } from './json.js';
import { resolveInside, whyNotPlainName } from './inside-folder.js';
import { nameForMessage, quoteForMessage } from '../quote.js';

export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';
export const WEIGHTS_INDEX_FILE = 'model.safetensors.index.json';
/** transformers' default max_shard_size, "5GB" = 5 * 10^9 bytes. */
const DEFAULT_MAX_SHARD_BYTES = 5_000_000_000;

/**
 * Reads a file that must exist. A read failure is reported as "missing" only when the file really is
 * absent, so that permission or network errors keep their own message.
 */
async function readRequired(path: string, what: string, o?: ReadOptions): Promise<Uint8Array> {
  try {
    return await readBytes(path, o);
  } catch (e) {
    if (!(await exists(path))) throw new FormatError(path, `missing: ${what}`);
    throw e;
  }
}

/** Reads `<dir>/config.json` as a JSON object. */
export async function readConfig(dir: string): Promise<Record<string, unknown>> {
  const path = joinPath(dir, CONFIG_FILE);
  const bytes = await readRequired(path, 'a model folder needs a config.json describing the model', { maxBytes: JSON_MAX_BYTES.config, what: 'a config.json' });
  return parseConfigJson(new TextDecoder().decode(bytes), path);
}

/** The tensors of a model folder, whether in one file or in shards. */
export interface WeightSource {
  names(): string[];
  has(name: string): boolean;
  /** The entry, with `file` the path of the (shard) file that holds it; offsets are within that file. */
  entry(name: string): SafetensorsEntry & { file: string };
  toFloat32(name: string): Float32Array;
  raw(name: string): Uint8Array;
}

/** Maps each tensor name to the parsed file that holds it. */
class ShardedWeights implements WeightSource {
  constructor(
    private readonly where: string,
    private readonly files: Map<string, SafetensorsFile>,
  ) {}

  names(): string[] {
    return [...this.files.keys()];
  }
  has(name: string): boolean {
    return this.files.has(name);
  }
  entry(name: string): SafetensorsEntry & { file: string } {
    const f = this.file(name);
    return { ...f.entry(name), file: f.source };
  }
  toFloat32(name: string): Float32Array {
    return this.file(name).toFloat32(name);
  }
  raw(name: string): Uint8Array {
    return this.file(name).raw(name);
  }

  private file(name: string): SafetensorsFile {
    const f = this.files.get(name);
    if (f === undefined) throw new FormatError(this.where, `no tensor named ${quoteForMessage(name)} (it has ${this.files.size})`);
    return f;
  }
}

/** Loads the weights of a model folder: model.safetensors, else the index and its shards. */
export async function readWeights(dir: string): Promise<WeightSource> {
  const single = joinPath(dir, WEIGHTS_FILE);
  if (await exists(single)) {
    const file = SafetensorsFile.parse(await readBytes(single), single);
    return new ShardedWeights(single, new Map(file.names().map((n) => [n, file])));
  }
  const indexPath = joinPath(dir, WEIGHTS_INDEX_FILE);
  if (await exists(indexPath)) return readShardedWeights(dir, indexPath);
  throw new FormatError(dir, `no weights: expected ${WEIGHTS_FILE} or ${WEIGHTS_INDEX_FILE} in the folder`);
}

/**
 * Validates an index's weight_map: tensor name -> shard file name. A shard name must be a plain
 * relative name (see inside-folder.ts: no "..", absolute paths, URLs, backslashes or control
 * characters, as written or after percent-decoding), so that the shards are read from the model's
 * folder and nowhere else, whether it is on disk, over HTTP or on the Hub.
 */
function parseWeightMap(index: Record<string, unknown>, indexPath: string): Map<string, string> {
  const map = index['weight_map'];
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw new FormatError(indexPath, `"weight_map" must be an object of tensor name -> shard file`);
  }
  const out = new Map<string, string>();
  for (const [name, shard] of Object.entries(map)) {
    const why = typeof shard === 'string' ? whyNotPlainName(shard) : 'it is not a string';
    if (why !== undefined) {
      throw new FormatError(indexPath, `weight_map: ${nameForMessage(name)}: expected a shard file name in this folder, got ${quoteForMessage(shard)} (${why})`);
    }
    out.set(name, shard as string);
  }
  return out;
}

/** The shard index, read within its size cap and parsed. */
async function readIndex(indexPath: string): Promise<Record<string, unknown>> {
  const bytes = await readRequired(indexPath, 'weights index', { maxBytes: JSON_MAX_BYTES.shardIndex, what: `a ${WEIGHTS_INDEX_FILE}` });
  return parseJsonObject(new TextDecoder().decode(bytes), indexPath);
}

/** The shard files a `model.safetensors.index.json` names, each once, in the order first named. */
export async function readShardNames(indexPath: string): Promise<string[]> {
  return [...new Set(parseWeightMap(await readIndex(indexPath), indexPath).values())];
}

/**
 * Where a shard is read from: the folder joined with its name, or for a URL folder the URL it
 * resolves to, checked to lie inside the folder (resolve first, then check the result).
 */
function shardPath(dir: string, shard: string, indexPath: string): string {
  const path = resolveInside(dir, shard);
  if (path === undefined) throw new FormatError(indexPath, `weight_map: the shard name ${quoteForMessage(shard)} leads outside the model's folder ${dir}`);
  return path;
}

async function readShardedWeights(dir: string, indexPath: string): Promise<WeightSource> {
  const weightMap = parseWeightMap(await readIndex(indexPath), indexPath);
  const shards = new Map<string, SafetensorsFile>();
  for (const shard of new Set(weightMap.values())) {
    const path = shardPath(dir, shard, indexPath);
    const bytes = await readRequired(path, `shard named by ${WEIGHTS_INDEX_FILE}`);
    shards.set(shard, SafetensorsFile.parse(bytes, path));
  }
  const files = new Map<string, SafetensorsFile>();
  for (const [name, shard] of weightMap) {
    const file = shards.get(shard)!;
    if (!file.has(name)) {
      throw new FormatError(indexPath, `${nameForMessage(name)}: the index puts it in ${nameForMessage(shard)}, but that shard has no such tensor`);
    }
    files.set(name, file);
  }
  return new ShardedWeights(indexPath, files);
}

function shardFileName(i: number, n: number): string {
  const pad = (k: number) => String(k).padStart(5, '0');
  return `model-${pad(i + 1)}-of-${pad(n)}.safetensors`;
}

/**
 * Splits tensors greedily, in the given order, into shards of at most maxBytes of data, like
 * transformers; a tensor larger than maxBytes gets a shard of its own.
 */
function planShards(sizes: [string, number][], maxBytes: number): string[][] {
  const shards: string[][] = [];
  let current: string[] = [];
  let currentBytes = 0;
  for (const [name, size] of sizes) {
    if (current.length > 0 && currentBytes + size > maxBytes) {
      shards.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(name);
    currentBytes += size;
  }
  if (current.length > 0) shards.push(current);
  return shards;
}

/** Removes a file if present. Node only, like writing. */
async function removeIfPresent(path: string): Promise<void> {
  if (!(await exists(path))) return;
  await removeFile(path);
}

/**
 * Writes a model folder the way transformers' save_pretrained does: config.json (2-space indent) and
 * model.safetensors, or, when the data exceeds maxShardBytes, numbered shards plus
 * model.safetensors.index.json. Weights are written before the index and config so that an
 * interrupted save never leaves a config pointing at weights that are not there yet.
 */
export async function writeModelFolder(
  dir: string,
  config: Record<string, unknown>,
  tensors: Record<string, TensorToWrite>,
  opts: { maxShardBytes?: number; floatFields?: readonly string[] } = {},
): Promise<void> {
  const maxBytes = opts.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES;
  if (!(maxBytes > 0) || !Number.isFinite(maxBytes)) {
    throw new ArgumentError(`maxShardBytes must be a positive number of bytes, got ${maxBytes}`);
  }
  // Validate every tensor before writing anything, so a bad one cannot leave half a folder.
  const sizes = Object.entries(tensors).map(([name, t]): [string, number] => [name, tensorByteLength(name, t)]);
  const totalSize = sizes.reduce((s, [, n]) => s + n, 0);
  const metadata = { format: 'pt' };
  const indexPath = joinPath(dir, WEIGHTS_INDEX_FILE);
  const singlePath = joinPath(dir, WEIGHTS_FILE);
  await removeStaleTemps(dir); // half-written files of an earlier save that was killed

  if (totalSize <= maxBytes) {
    await writeBytesAtomic(singlePath, serializeSafetensors(tensors, metadata));
    await removeIfPresent(indexPath); // a stale index would describe other weights
  } else {
    const plan = planShards(sizes, maxBytes);
    const weightMap: Record<string, string> = {};
    for (let i = 0; i < plan.length; i++) {
      const file = shardFileName(i, plan.length);
      const part: Record<string, TensorToWrite> = {};
      for (const name of plan[i]!) {
        part[name] = tensors[name]!;
        weightMap[name] = file;
      }
      await writeBytesAtomic(joinPath(dir, file), serializeSafetensors(part, metadata));
    }
    const sortedMap = Object.fromEntries(Object.keys(weightMap).sort().map((k) => [k, weightMap[k]!]));
    const index = { metadata: { total_size: totalSize }, weight_map: sortedMap };
    await writeBytesAtomic(indexPath, `${JSON.stringify(index, null, 2)}\n`);
    // readWeights prefers model.safetensors, so a stale one would hide the shards just written.
    await removeIfPresent(singlePath);
  }
  await writeBytesAtomic(joinPath(dir, CONFIG_FILE), configText(config, opts.floatFields ?? []));
}

/**
 * config.json text, with the float fields written as floats: JSON.stringify writes 1.0 as `1`, and
 * transformers 5's config classes reject an int where they declare a float ("Field
 * 'time_step_scale' expected float, got int"), so a whole-number float gets its `.0` back.
 */
export function configText(config: Record<string, unknown>, floatFields: readonly string[]): string {
  const mark = '@@mamba-ts-float@@';
  const text = JSON.stringify(
    config,
    (key, v: unknown) => (floatFields.includes(key) && typeof v === 'number' && Number.isInteger(v) ? `${mark}${v}` : v),
    2,
  );
  return `${text.replace(new RegExp(`"${mark}(-?\\d+)"`, 'g'), '$1.0')}\n`;
}
