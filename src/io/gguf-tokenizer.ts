/**
 * Tokenizer metadata for GGUF files (llama.cpp's `tokenizer.ggml.*` keys), for byte-level BPE
 * tokenizers (GPT-2, GPT-NeoX: what Mamba checkpoints use) as llama.cpp's converter writes them:
 * every id from 0 to vocab_size − 1 gets a token (ids the tokenizer lacks become unused `[PADn]`
 * tokens, since Mamba pads its vocabulary to a multiple of 8), added special tokens are control
 * tokens, other added tokens are user-defined, merges are "left right" strings.
 */
import { quoteForMessage } from '../quote.js';
import { ArgumentError, FormatError } from '../errors.js';
import { TOKEN_TYPE, type GgufValue } from './gguf-format.js';
import { checkTokenizerJson } from './tokenizer-check.js';

export interface SpecialTokenIds {
  bos?: number | null;
  eos?: number | null;
  unknown?: number | null;
  padding?: number | null;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stripNullish(ids: SpecialTokenIds): SpecialTokenIds {
  return Object.fromEntries(Object.entries(ids).filter(([, v]) => v !== undefined && v !== null));
}

function specialIdKeys(ids: SpecialTokenIds, vocabSize: number): Record<string, GgufValue> {
  const out: Record<string, GgufValue> = {};
  for (const [name, key] of [
    ['bos', 'tokenizer.ggml.bos_token_id'],
    ['eos', 'tokenizer.ggml.eos_token_id'],
    ['unknown', 'tokenizer.ggml.unknown_token_id'],
    ['padding', 'tokenizer.ggml.padding_token_id'],
  ] as const) {
    const id = ids[name];
    if (id === undefined || id === null) continue;
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new ArgumentError(`${name} token id must be an integer in [0, ${vocabSize}), got ${id}`);
    out[key] = { type: 'u32', value: id };
  }
  return out;
}

/**
 * `tokenizer.ggml.*` metadata from a byte-level BPE tokenizer.json (HF tokenizers' format), for a
 * model with `vocabSize` rows in its embedding. Special ids not given (or null) default to
 * <|endoftext|> for bos and eos when the vocabulary has it. `source` names the file in errors.
 */
export function byteLevelBpeGgufMetadata(tokenizerJson: unknown, vocabSize: number, ids: SpecialTokenIds = {}, source = 'tokenizer.json'): Record<string, GgufValue> {
  if (!isRecord(tokenizerJson) || !isRecord(tokenizerJson['model'])) throw new FormatError(source, 'expected a tokenizer.json object with a "model" object');
  const model = tokenizerJson['model'];
  if (model['type'] !== 'BPE') throw new FormatError(source, `model.type is ${quoteForMessage(model['type'])}; only byte-level BPE tokenizers are exported to GGUF`);
  const preTokenizer = tokenizerJson['pre_tokenizer'];
  if (!isRecord(preTokenizer) || preTokenizer['type'] !== 'ByteLevel') {
    throw new FormatError(source, `pre_tokenizer is ${quoteForMessage(isRecord(preTokenizer) ? preTokenizer['type'] : preTokenizer)}; only a ByteLevel pre-tokenizer (GPT-2, GPT-NeoX) is exported to GGUF`);
  }
  // The same checks as loading it (ids integers, unique, bounded; merges of one form): a
  // duplicate id would otherwise silently overwrite a token in the GGUF's list.
  checkTokenizerJson(tokenizerJson, source);
  const vocab = model['vocab'];
  if (!isRecord(vocab)) throw new FormatError(source, 'model.vocab must be an object of token → id');

  const tokens: (string | undefined)[] = new Array(vocabSize);
  const types: number[] = new Array(vocabSize).fill(TOKEN_TYPE.normal);
  const place = (token: string, id: unknown, type: number) => {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) throw new FormatError(source, `token ${quoteForMessage(token)} has id ${quoteForMessage(id)}, expected a non-negative integer`);
    if (id >= vocabSize) throw new ArgumentError(`${source}: token ${quoteForMessage(token)} has id ${id}, beyond the model's vocab_size ${vocabSize}`);
    tokens[id] = token;
    types[id] = type;
  };
  for (const [token, id] of Object.entries(vocab)) place(token, id, TOKEN_TYPE.normal);
  const added = tokenizerJson['added_tokens'] ?? [];
  if (!Array.isArray(added)) throw new FormatError(source, 'added_tokens must be an array');
  for (const a of added) {
    if (!isRecord(a) || typeof a['content'] !== 'string') throw new FormatError(source, 'each added_tokens entry needs a string "content" and an "id"');
    place(a['content'], a['id'], a['special'] === true ? TOKEN_TYPE.control : TOKEN_TYPE.userDefined);
  }
  for (let i = 0; i < vocabSize; i++) {
    if (tokens[i] === undefined) {
      tokens[i] = `[PAD${i}]`;
      types[i] = TOKEN_TYPE.unused;
    }
  }

  const rawMerges = model['merges'] ?? [];
  if (!Array.isArray(rawMerges)) throw new FormatError(source, 'model.merges must be an array');
  const merges = rawMerges.map((m, i): string => {
    if (typeof m === 'string' && m.includes(' ')) return m;
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') return `${m[0]} ${m[1]}`;
    throw new FormatError(source, `model.merges[${i}] must be "left right" or ["left", "right"], got ${quoteForMessage(m)}`);
  });

  // GPT-2 and GPT-NeoX begin and end documents with <|endoftext|>; their configs often leave the ids out.
  const endOfText = tokens.indexOf('<|endoftext|>');
  const withDefaults: SpecialTokenIds = endOfText >= 0 ? { bos: endOfText, eos: endOfText, ...stripNullish(ids) } : ids;
  return {
    'tokenizer.ggml.model': { type: 'string', value: 'gpt2' },
    // llama.cpp's name for the GPT-2 byte-level split regex, which GPT-NeoX shares.
    'tokenizer.ggml.pre': { type: 'string', value: 'gpt-2' },
    'tokenizer.ggml.tokens': { type: 'array', itemType: 'string', value: tokens as string[] },
    'tokenizer.ggml.token_type': { type: 'array', itemType: 'i32', value: types },
    'tokenizer.ggml.merges': { type: 'array', itemType: 'string', value: merges },
    ...specialIdKeys(withDefaults, vocabSize),
    'tokenizer.ggml.add_bos_token': { type: 'bool', value: false },
  };
}

/** GPT-2's printable stand-in for each byte (bytes_to_unicode): printable Latin-1 stays, the rest move to U+0100 on. */
export function byteLevelAlphabet(): string[] {
  const out: string[] = new Array(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    out[b] = String.fromCharCode(printable ? b : next++);
  }
  return out;
}

/**
 * The simplest tokenizer llama.cpp loads, for models trained on ids with no tokenizer of their own
 * (test fixtures, synthetic corpora): id b < 256 is byte b, the rest are unused, no merges.
 */
export function byteGgufMetadata(vocabSize: number, ids: SpecialTokenIds = {}): Record<string, GgufValue> {
  if (!Number.isInteger(vocabSize) || vocabSize < 256) throw new ArgumentError(`byteGgufMetadata: vocabSize must be an integer ≥ 256 (one token per byte), got ${vocabSize}`);
  const alphabet = byteLevelAlphabet();
  const tokens = Array.from({ length: vocabSize }, (_, i) => (i < 256 ? alphabet[i]! : `[PAD${i}]`));
  const types = Array.from({ length: vocabSize }, (_, i) => (i < 256 ? TOKEN_TYPE.normal : TOKEN_TYPE.unused));
  return {
    'tokenizer.ggml.model': { type: 'string', value: 'gpt2' },
    'tokenizer.ggml.pre': { type: 'string', value: 'gpt-2' },
    'tokenizer.ggml.tokens': { type: 'array', itemType: 'string', value: tokens },
    'tokenizer.ggml.token_type': { type: 'array', itemType: 'i32', value: types },
    'tokenizer.ggml.merges': { type: 'array', itemType: 'string', value: [] },
    ...specialIdKeys(ids, vocabSize),
    'tokenizer.ggml.add_bos_token': { type: 'bool', value: false },
  };
}
