/**
 * Checking a parsed tokenizer.json before `@huggingface/tokenizers` sees it. That package trusts the
 * file: a vocabulary id of 1e9 made it walk a billion array slots (68 s), a vocabulary value that
 * is a string came back from `encode` as an id (`[40, "x", …]`), a BPE vocabulary given as an
 * array encoded everything to `[]`, and a pattern like `(a+)+$` ran for as long as the input let
 * it. Everything here is linear in the file's size.
 *
 * Rules (each refusal is a FormatError naming the file and the entry):
 * - model.type is BPE, WordPiece or Unigram (inferred as the package does when absent);
 * - BPE and WordPiece: model.vocab is an object of token → id; Unigram: an array of
 *   [token, score] pairs (the id is the position), tokens unique, unk_id inside it;
 * - ids are non-negative integers, no two tokens share one, and an added token that is also in
 *   the vocabulary has the vocabulary's id;
 * - every id is below MAX_ID_SLACK_FACTOR × (number of distinct ids) + MAX_ID_SLACK: ids may
 *   leave holes (the Rust library never compacts them) but cannot make the vocabulary size, which
 *   models and generation allocate by, unrelated to the file;
 * - BPE merges are all "left right" strings or all [left, right] pairs;
 * - no regular expression (Split, Replace) can backtrack exponentially (see regex-safety.ts).
 */
import { FormatError } from '../errors.js';
import { checkPatternSafety } from './regex-safety.js';

type Json = Record<string, unknown>;

export type ModelType = 'BPE' | 'WordPiece' | 'Unigram';
export const MODEL_TYPES: readonly ModelType[] = ['BPE', 'WordPiece', 'Unigram'];

/** Ids may reach twice the number of distinct ids, plus this. */
export const MAX_ID_SLACK = 256;
export const MAX_ID_SLACK_FACTOR = 2;

/** What the rest of the loader needs to know about a checked tokenizer.json. */
export interface CheckedTokenizer {
  type: ModelType;
  /** One more than the largest id (vocabulary and added tokens). */
  vocabSize: number;
}

/** A JSON value's kind in words: "an array", "an object", "null", "a string". */
function jsonKind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A token for an error message: JSON-quoted and cut short, since it came from the file. */
export function quoteToken(token: string): string {
  return JSON.stringify(token.length > 40 ? `${token.slice(0, 40)}…` : token);
}

/** A value from the file for an error message: numbers as they are, anything else by kind. */
function describeValue(v: unknown): string {
  return typeof v === 'number' ? String(v) : typeof v === 'string' ? `the string ${quoteToken(v)}` : jsonKind(v);
}

const isId = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** The model type the package would use: the declared one, or its guess from the model's keys. */
function modelType(model: Json, source: string): ModelType {
  const declared = model['type'];
  if (declared !== undefined) {
    if (typeof declared === 'string' && (MODEL_TYPES as readonly string[]).includes(declared)) return declared as ModelType;
    throw new FormatError(source, `model type ${typeof declared === 'string' ? quoteToken(declared) : jsonKind(declared)} is not supported (supported: ${MODEL_TYPES.join(', ')})`);
  }
  if (Array.isArray(model['vocab'])) return 'Unigram';
  if (Object.hasOwn(model, 'merges')) return 'BPE';
  if (Object.hasOwn(model, 'continuing_subword_prefix') && Object.hasOwn(model, 'unk_token')) return 'WordPiece';
  throw new FormatError(source, `model has no "type" and is none of ${MODEL_TYPES.join(', ')}`);
}

/** Records id → token, refusing an id given to two different tokens. */
class IdTable {
  readonly tokenOf = new Map<number, string>();
  maxId = -1;
  constructor(private readonly source: string) {}
  add(id: number, token: string, where: string): void {
    const other = this.tokenOf.get(id);
    if (other !== undefined && other !== token) {
      throw new FormatError(this.source, `${where}: id ${id} of token ${quoteToken(token)} is already the id of ${quoteToken(other)}`);
    }
    this.tokenOf.set(id, token);
    if (id > this.maxId) this.maxId = id;
  }
}

/** token → id of an object vocabulary (BPE, WordPiece), every value checked. */
function objectVocab(vocab: unknown, type: ModelType, ids: IdTable, source: string): Map<string, number> {
  if (!isObject(vocab)) {
    throw new FormatError(source, `model.vocab of a ${type} model must be an object of token → id, got ${jsonKind(vocab)}`);
  }
  const idOf = new Map<string, number>();
  for (const [token, id] of Object.entries(vocab)) {
    if (!isId(id)) throw new FormatError(source, `model.vocab: token ${quoteToken(token)} has id ${describeValue(id)}; expected a non-negative integer`);
    ids.add(id, token, 'model.vocab');
    idOf.set(token, id);
  }
  return idOf;
}

/** token → id (its position) of a Unigram vocabulary of [token, score] pairs. */
function unigramVocab(model: Json, ids: IdTable, source: string): Map<string, number> {
  const vocab = model['vocab'];
  if (!Array.isArray(vocab)) throw new FormatError(source, `model.vocab of a Unigram model must be an array of [token, score] pairs, got ${jsonKind(vocab)}`);
  const idOf = new Map<string, number>();
  vocab.forEach((entry: unknown, i) => {
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string' || typeof entry[1] !== 'number' || !Number.isFinite(entry[1])) {
      throw new FormatError(source, `model.vocab[${i}] must be a [token, score] pair of a string and a finite number`);
    }
    const token = entry[0];
    if (idOf.has(token)) throw new FormatError(source, `model.vocab[${i}]: token ${quoteToken(token)} is already model.vocab[${idOf.get(token)}]`);
    idOf.set(token, i);
    ids.add(i, token, 'model.vocab');
  });
  const unk = model['unk_id'];
  if (unk !== undefined && unk !== null && !(isId(unk) && unk < vocab.length)) {
    throw new FormatError(source, `model.unk_id is ${describeValue(unk)}; expected an index into model.vocab [0, ${vocab.length})`);
  }
  return idOf;
}

/** BPE merges: all "left right" strings or all [left, right] pairs (the package goes by the first). */
function checkMerges(merges: unknown, source: string): void {
  if (!Array.isArray(merges)) throw new FormatError(source, 'BPE model without a "merges" list');
  const pairs = merges.length > 0 && Array.isArray(merges[0]);
  merges.forEach((m: unknown, i) => {
    const ok = pairs
      ? Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string'
      : typeof m === 'string' && m.split(' ').length === 2;
    if (!ok) {
      throw new FormatError(source, `model.merges[${i}] must be ${pairs ? 'a [left, right] pair of strings, like model.merges[0]' : 'a "left right" string (one space), like model.merges[0]'}`);
    }
  });
}

/** Optional string settings of a model: a string, or null/absent. */
function checkOptionalStrings(model: Json, keys: readonly string[], source: string): void {
  for (const key of keys) {
    const v = model[key];
    if (v !== undefined && v !== null && typeof v !== 'string') throw new FormatError(source, `model.${key} must be a string or null, got ${jsonKind(v)}`);
  }
}

/** Added tokens: ids checked against the vocabulary and each other. */
function checkAddedTokens(added: unknown, vocabIdOf: Map<string, number>, ids: IdTable, source: string): void {
  if (added === undefined || added === null) return;
  if (!Array.isArray(added)) throw new FormatError(source, `added_tokens must be an array, got ${jsonKind(added)}`);
  const addedIdOf = new Map<string, number>();
  added.forEach((a: unknown, i) => {
    const where = `added_tokens[${i}]`;
    if (!isObject(a) || typeof a['content'] !== 'string') throw new FormatError(source, `${where} needs a string "content" and an "id"`);
    const content = a['content'];
    const id = a['id'];
    if (!isId(id)) throw new FormatError(source, `${where}: token ${quoteToken(content)} has id ${describeValue(id)}; expected a non-negative integer`);
    const inVocab = vocabIdOf.get(content);
    if (inVocab !== undefined && inVocab !== id) {
      throw new FormatError(source, `${where}: token ${quoteToken(content)} has id ${id}, but model.vocab gives it id ${inVocab}`);
    }
    const before = addedIdOf.get(content);
    if (before !== undefined && before !== id) {
      throw new FormatError(source, `${where}: token ${quoteToken(content)} has id ${id}, but an earlier added token gives it id ${before}`);
    }
    addedIdOf.set(content, id);
    ids.add(id, content, where);
  });
}

/** Every `pattern: { Regex }` under the normalizer, pre-tokenizer and decoder, with its path. */
function* regexPatterns(value: unknown, path: string): Generator<[string, unknown]> {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) yield* regexPatterns(value[i], `${path}[${i}]`);
  } else if (isObject(value)) {
    for (const [key, v] of Object.entries(value)) {
      if (key === 'pattern' && isObject(v) && 'Regex' in v) yield [`${path}.pattern.Regex`, v['Regex']];
      else yield* regexPatterns(v, `${path}.${key}`);
    }
  }
}

function checkPatterns(json: Json, source: string): void {
  for (const part of ['normalizer', 'pre_tokenizer', 'decoder', 'post_processor']) {
    for (const [path, pattern] of regexPatterns(json[part], part)) {
      if (typeof pattern !== 'string') throw new FormatError(source, `${path} must be a string, got ${jsonKind(pattern)}`);
      const unsafe = checkPatternSafety(pattern);
      if (unsafe) throw new FormatError(source, `${path} is refused: at character ${unsafe.at}, ${unsafe.reason} on some inputs`);
    }
  }
}

/** Checks tokenizer.json (already parsed, an object); `source` names the file in errors. */
export function checkTokenizerJson(json: Json, source: string): CheckedTokenizer {
  const model = json['model'];
  if (!isObject(model) || typeof model['vocab'] !== 'object' || model['vocab'] === null) {
    throw new FormatError(source, 'no "model" with a "vocab": not a HuggingFace tokenizer.json');
  }
  const type = modelType(model, source);
  const ids = new IdTable(source);
  let vocabIdOf: Map<string, number>;
  if (type === 'Unigram') {
    vocabIdOf = unigramVocab(model, ids, source);
  } else {
    vocabIdOf = objectVocab(model['vocab'], type, ids, source);
    if (type === 'BPE') {
      checkMerges(model['merges'], source);
      checkOptionalStrings(model, ['unk_token', 'end_of_word_suffix', 'continuing_subword_suffix'], source);
    } else {
      checkOptionalStrings(model, ['unk_token', 'continuing_subword_prefix'], source);
      const max = model['max_input_chars_per_word'];
      if (max !== undefined && max !== null && !(isId(max) && max > 0)) {
        throw new FormatError(source, `model.max_input_chars_per_word is ${describeValue(max)}; expected a positive integer`);
      }
    }
  }
  if (vocabIdOf.size === 0) throw new FormatError(source, 'the model vocabulary is empty');
  checkAddedTokens(json['added_tokens'], vocabIdOf, ids, source);
  const distinct = ids.tokenOf.size;
  const limit = MAX_ID_SLACK_FACTOR * distinct + MAX_ID_SLACK;
  if (ids.maxId >= limit) {
    throw new FormatError(
      source,
      `token id ${ids.maxId} (${quoteToken(ids.tokenOf.get(ids.maxId)!)}) is far beyond the ${distinct} tokens; ids must be below ${limit} (${MAX_ID_SLACK_FACTOR} × the number of tokens + ${MAX_ID_SLACK})`,
    );
  }
  checkPatterns(json, source);
  return { type, vocabSize: ids.maxId + 1 };
}
