/**
 * Tokenizers from HF `tokenizer.json`, through the maintained `@huggingface/tokenizers` package
 * (the tokenizers of transformers.js). This file only loads, checks and names things, and sets the
 * few defaults where that package differs from the Rust `tokenizers` library the checkpoints were
 * made with.
 */
import * as hfTokenizers from '@huggingface/tokenizers';
import { ArgumentError, FormatError } from '../errors.js';
import { exists, joinPath } from './platform.js';
import { HUB_OPTION_KEYS, resolvePretrained, type HubOptions } from './hub.js';
import { Callable } from '../callable.js';
import { checkOptionKeys, optionKeys } from '../options.js';
import { JSON_MAX_BYTES, readJsonObject } from './json.js';
import { checkTokenizerJson } from './tokenizer-check.js';
import { BpeMerger } from './bpe-merge.js';
import { UnigramSegmenter, type UnigramScores } from './unigram-viterbi.js';
import { WordPieceSplitter, type WordPieceModel } from './wordpiece-split.js';

type Json = Record<string, unknown>;

/**
 * The part of the package's Tokenizer used here. Its .d.ts files import each other without file
 * extensions, which NodeNext resolution does not follow, so the class arrives typed `any`; this
 * restores checking (and says that an id can come back undefined).
 */
interface JsTokenizer {
  encode(text: string, o: { add_special_tokens: boolean }): { ids: (number | undefined)[]; tokens: string[] };
  decode(ids: number[], o: { skip_special_tokens: boolean }): string;
  token_to_id(token: string): number | undefined;
  id_to_token(id: number): string | undefined;
  get_added_tokens_decoder(): Map<number, { content: string; special: boolean }>;
  /** The model (BPE, WordPiece, Unigram); public in the package's declarations. */
  model: unknown;
}
const JsTokenizerClass = hfTokenizers.Tokenizer as unknown as new (tokenizerJson: Json, config: Json) => JsTokenizer;

/** The part of the package's BPE model that the long-word path replaces and reads (public there too). */
interface JsBpeModel {
  bpe(token: string): string[];
  merges: [string, string][];
  end_of_word_suffix?: string | null;
  continuing_subword_suffix?: string | null;
}
/** The part of the package's Unigram model that the long-word path replaces and reads. */
interface JsUnigramModel extends UnigramScores {
  tokenize(word: string): string[];
  encode(words: string[]): string[];
}
/** The part of the package's WordPiece model that is replaced and read. */
interface JsWordPieceModel extends WordPieceModel {
  encode(words: string[]): (string | undefined)[];
}
// The package exports these classes, but its declarations of them do not resolve (see JsTokenizer).
const modelClasses = hfTokenizers as unknown as {
  BPE: abstract new (...args: never[]) => JsBpeModel;
  Unigram: abstract new (...args: never[]) => JsUnigramModel;
  WordPiece: abstract new (...args: never[]) => JsWordPieceModel;
};

/**
 * Words at least this long (in UTF-16 units) are merged by our BpeMerger instead of the package's
 * `bpe`, and segmented by our UnigramSegmenter instead of its lattice: both are superlinear in
 * time or memory on long words there. Shorter ones stay with the package (whose BPE caches words
 * up to this very length). Both give the same pieces.
 */
export const LONG_WORD = 256;

/**
 * Points the package's model at our linear-time paths (its methods and fields used here are public
 * in its declarations): long BPE words through BpeMerger, long Unigram words through
 * UnigramSegmenter, every WordPiece word through WordPieceSplitter. `unigramPieces` gives the
 * Unigram vocabulary's strings (what the package built its trie from).
 */
function useLinearPaths(model: unknown, unigramPieces: () => string[]): void {
  if (model instanceof modelClasses.BPE && typeof model.bpe === 'function') {
    const own = model.bpe.bind(model);
    let merger: BpeMerger | undefined;
    model.bpe = (token: string): string[] => {
      if (token.length < LONG_WORD) return own(token);
      merger ??= new BpeMerger({ merges: model.merges, endOfWordSuffix: model.end_of_word_suffix, continuingSubwordSuffix: model.continuing_subword_suffix });
      return merger.merge(token);
    };
  } else if (model instanceof modelClasses.Unigram && typeof model.tokenize === 'function') {
    const own = model.tokenize.bind(model);
    let segmenter: UnigramSegmenter | undefined;
    model.tokenize = (word: string): string[] => {
      if (word.length < LONG_WORD) return own(word);
      segmenter ??= new UnigramSegmenter(unigramPieces());
      return segmenter.segment(word, model);
    };
    // The package appends each word's pieces with push(...pieces), a stack overflow for long words.
    model.encode = (words: string[]): string[] => {
      const out: string[] = [];
      for (const w of words) for (const p of model.tokenize(w)) out.push(p);
      return out;
    };
  } else if (model instanceof modelClasses.WordPiece && typeof model.encode === 'function') {
    let splitter: WordPieceSplitter | undefined;
    model.encode = (words: string[]) => (splitter ??= new WordPieceSplitter(model)).encode(words);
  }
}

/**
 * A dependency's error in our words: its message on one line and cut short, since it may quote
 * the file (a type name, a pattern) and a file can hold anything.
 */
function dependencyMessage(e: unknown): string {
  if (!(e instanceof Error)) return 'the tokenizer library failed without an error message';
  const line = e.message.replace(/\s+/g, ' ').trim();
  return line.length > 120 ? `${line.slice(0, 120)}…` : line;
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A special token in tokenizer_config.json is a string or an object with `content`. */
function tokenContent(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v['content'] === 'string') return v['content'];
  return undefined;
}

/**
 * Special tokens to look for among the added tokens when tokenizer_config.json does not name them
 * (GPT-NeoX / GPT-2 style vocabularies ship only tokenizer.json and use <|endoftext|> for all roles).
 */
const FALLBACK: Record<'bos_token' | 'eos_token' | 'pad_token', string[]> = {
  eos_token: ['<|endoftext|>', '</s>', '<|end_of_text|>', '<eos>'],
  bos_token: ['<|endoftext|>', '<s>', '<|begin_of_text|>', '<bos>'],
  pad_token: ['<|padding|>', '<pad>', '[PAD]'],
};

export interface EncodeOptions {
  /** Run the post-processor, which adds special tokens such as BOS (default true, as HF). */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Leave special tokens (EOS, padding, …) out of the text (default false, as HF). */
  skipSpecialTokens?: boolean;
}

export interface TokenizerCallOptions extends EncodeOptions {
  /**
   * Pad the rows of a batch to the longest with the pad token (the EOS token when there is none) and
   * mark the padding with 0 in attentionMask. Default false: rows keep their lengths, which
   * `generate` takes as they are (it pads them itself).
   */
  padding?: boolean;
  /**
   * Where padding goes. Default 'left': causal LMs continue the last token of each row, so the
   * padding must come first (what `generate`'s attentionMask expects); HF's default is 'right'.
   */
  paddingSide?: 'left' | 'right';
}

/** What calling a tokenizer returns: HF's input_ids and attention_mask as number[][] (one row per text). */
export interface BatchEncoding {
  inputIds: number[][];
  /** 1 for a real token, 0 for padding. */
  attentionMask: number[][];
}

export const ENCODE_OPTION_KEYS = optionKeys<EncodeOptions>({ addSpecialTokens: true });
export const DECODE_OPTION_KEYS = optionKeys<DecodeOptions>({ skipSpecialTokens: true });
export const TOKENIZER_CALL_OPTION_KEYS = optionKeys<TokenizerCallOptions>({ addSpecialTokens: true, padding: true, paddingSide: true });

/** A value's kind in words, for errors. */
function kind(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : `a ${typeof v}`;
}

/**
 * Calling a tokenizer encodes text for a model, as HF's `tokenizer(text)`:
 * `tokenizer('Hello')` → `{ inputIds: [[…]], attentionMask: [[1, …]] }`; a string[] gives one row
 * per text (see TokenizerCallOptions for padding).
 */
export interface PreTrainedTokenizer {
  (text: string | string[], o?: TokenizerCallOptions): BatchEncoding;
}

export class PreTrainedTokenizer extends Callable<[text: string | string[], o?: TokenizerCallOptions], BatchEncoding> {
  /** One more than the largest token id (model vocabulary plus added tokens). */
  readonly vocabSize: number;
  readonly eosTokenId: number | undefined;
  readonly bosTokenId: number | undefined;
  readonly padTokenId: number | undefined;

  private constructor(
    private readonly tok: JsTokenizer,
    config: Json,
    vocabSize: number,
  ) {
    super();
    this.vocabSize = vocabSize;
    const added = new Map<string, number>();
    for (const [id, t] of tok.get_added_tokens_decoder()) if (t.special) added.set(t.content, id);
    const special = (key: keyof typeof FALLBACK): number | undefined => {
      const content = tokenContent(config[key]);
      // A token named in the config that the vocabulary lacks stays undefined: guessing another
      // token for it would silently change where generation stops.
      if (content !== undefined) return tok.token_to_id(content);
      if (key in config) return undefined; // explicitly null: the model has none
      for (const c of FALLBACK[key]) if (added.has(c)) return added.get(c);
      return undefined;
    };
    this.eosTokenId = special('eos_token');
    this.bosTokenId = special('bos_token');
    this.padTokenId = special('pad_token');
  }

  /**
   * From parsed tokenizer.json (and optional tokenizer_config.json); `source` names the file in
   * errors.
   */
  static fromJSON(tokenizerJson: unknown, tokenizerConfig: unknown = {}, source = 'tokenizer.json'): PreTrainedTokenizer {
    if (!isObject(tokenizerJson)) throw new FormatError(source, 'expected a JSON object (a HuggingFace tokenizer.json)');
    if (!isObject(tokenizerConfig)) throw new FormatError('tokenizer_config.json', 'expected a JSON object');
    // Everything the package would trust (ids, vocabulary shapes, patterns) is checked first.
    const checked = checkTokenizerJson(tokenizerJson, source);
    // The Rust library treats these keys as optional (null / []); the JS package requires them.
    // The model's type is made explicit so that the package builds the model that was checked.
    const json: Json = {
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: null,
      ...tokenizerJson,
      model: { ...(tokenizerJson['model'] as Json), type: checked.type },
      added_tokens: tokenizerJson['added_tokens'] ?? [],
    };
    // The JS package cleans up spaces before punctuation (" ," -> ",") unless told otherwise, as
    // old transformers did; the Rust library never does, and transformers now defaults to off. Only
    // an explicit `clean_up_tokenization_spaces: true` in tokenizer_config.json turns it on.
    const config: Json = { ...tokenizerConfig, clean_up_tokenization_spaces: tokenizerConfig['clean_up_tokenization_spaces'] === true };
    let tok: JsTokenizer;
    try {
      tok = new JsTokenizerClass(json, config);
    } catch (e) {
      throw new FormatError(source, `cannot build a tokenizer from it: ${dependencyMessage(e)}`);
    }
    const vocab = (tokenizerJson['model'] as Json)['vocab'];
    useLinearPaths(tok.model, () => (vocab as [string, number][]).map((entry) => entry[0]));
    return new PreTrainedTokenizer(tok, config, checked.vocabSize);
  }

  /** Token ids of `text`; `addSpecialTokens` (default true, as HF) runs the post-processor. */
  encode(text: string, o: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') {
      throw new ArgumentError(`encode: expected a string, got ${kind(text)}${Array.isArray(text) ? '; for several texts call tokenizer(texts)' : ''}`);
    }
    checkOptionKeys('encode', o, ENCODE_OPTION_KEYS);
    const { ids } = this.tok.encode(text, { add_special_tokens: o.addSpecialTokens ?? true });
    // A piece with no id (no unk_token in a vocabulary lacking it) comes back as undefined; the
    // Rust BPE skips such characters too, and an undefined id must never reach a model.
    return ids.filter((id): id is number => id !== undefined);
  }

  /** Token strings of `text`, without special tokens (HF `tokenize`). */
  tokenize(text: string): string[] {
    if (typeof text !== 'string') throw new ArgumentError(`tokenize: expected a string, got ${typeof text}`);
    const { ids, tokens } = this.tok.encode(text, { add_special_tokens: false });
    return tokens.filter((_, i) => ids[i] !== undefined); // as encode(): pieces without an id go
  }

  /** Text of `ids`; an id the vocabulary does not have is an error, never a silent placeholder. */
  decode(ids: readonly number[], o: DecodeOptions = {}): string {
    if (!Array.isArray(ids)) throw new ArgumentError(`decode: expected token ids (number[]), got ${kind(ids)}`);
    if (ids.length > 0 && Array.isArray(ids[0])) throw new ArgumentError('decode: expected one sequence of ids (number[]), got a batch (number[][]); use batchDecode(ids)');
    checkOptionKeys('decode', o, DECODE_OPTION_KEYS);
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize || this.tok.id_to_token(id) === undefined) {
        throw new ArgumentError(`decode: token id ${id} is outside the vocabulary [0, ${this.vocabSize})`);
      }
    }
    if (ids.length === 0) return ''; // the JS package throws on an empty list
    return this.tok.decode([...ids], { skip_special_tokens: o.skipSpecialTokens ?? false });
  }

  /** The text of each row of `batch` (HF's batch_decode). */
  batchDecode(batch: readonly (readonly number[])[], o: DecodeOptions = {}): string[] {
    if (!Array.isArray(batch)) throw new ArgumentError(`batchDecode: expected a batch of token ids (number[][]), got ${kind(batch)}`);
    checkOptionKeys('batchDecode', o, DECODE_OPTION_KEYS);
    return batch.map((row, b) => {
      if (!Array.isArray(row)) throw new ArgumentError(`batchDecode: row ${b} is ${kind(row)}; expected number[][] (one id sequence per row; for one sequence use decode(ids))`);
      return this.decode(row, o);
    });
  }

  protected _call(text: string | string[], o: TokenizerCallOptions = {}): BatchEncoding {
    checkOptionKeys('tokenizer', o, TOKENIZER_CALL_OPTION_KEYS);
    const texts = typeof text === 'string' ? [text] : text;
    if (!Array.isArray(texts) || texts.some((t) => typeof t !== 'string')) {
      const bad = Array.isArray(texts) ? `an array holding ${kind(texts.find((t) => typeof t !== 'string'))}` : kind(text);
      throw new ArgumentError(`tokenizer: expected a string or string[], got ${bad}`);
    }
    const side = o.paddingSide ?? 'left';
    if (side !== 'left' && side !== 'right') throw new ArgumentError(`tokenizer: paddingSide must be 'left' or 'right', got ${JSON.stringify(side)}`);
    const rows = texts.map((t) => this.encode(t, { addSpecialTokens: o.addSpecialTokens ?? true }));
    const longest = Math.max(0, ...rows.map((r) => r.length));
    if (!o.padding || rows.every((r) => r.length === longest)) {
      return { inputIds: rows, attentionMask: rows.map((r) => r.map(() => 1)) };
    }
    const pad = this.padTokenId ?? this.eosTokenId;
    if (pad === undefined) throw new ArgumentError('tokenizer: padding needs a pad token, and this tokenizer has neither a pad nor an EOS token');
    const fill = (n: number, v: number) => new Array<number>(n).fill(v);
    return {
      inputIds: rows.map((r) => (side === 'left' ? [...fill(longest - r.length, pad), ...r] : [...r, ...fill(longest - r.length, pad)])),
      attentionMask: rows.map((r) => (side === 'left' ? [...fill(longest - r.length, 0), ...fill(r.length, 1)] : [...fill(r.length, 1), ...fill(longest - r.length, 0)])),
    };
  }

  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return Number.isInteger(id) && id >= 0 ? this.tok.id_to_token(id) : undefined;
  }
}


export const AutoTokenizer = {
  /**
   * Loads `<dir>/tokenizer.json` and, when present, `<dir>/tokenizer_config.json`; `dir` may be a Hub
   * id (`owner/name`, when no such local folder exists), fetched through HuggingFace's cache.
   */
  async fromPretrained(idOrDir: string, o: HubOptions = {}): Promise<PreTrainedTokenizer> {
    checkOptionKeys('AutoTokenizer.fromPretrained', o, HUB_OPTION_KEYS);
    const dir = await resolvePretrained(idOrDir, 'tokenizer', o);
    const file = joinPath(dir, 'tokenizer.json');
    if (!(await exists(file))) throw new FormatError(file, 'missing: a tokenizer folder needs tokenizer.json');
    const json = await readJsonObject(file, { maxBytes: JSON_MAX_BYTES.tokenizer, what: 'a tokenizer.json' });
    const cfgFile = joinPath(dir, 'tokenizer_config.json');
    const cfg = (await exists(cfgFile)) ? await readJsonObject(cfgFile, { maxBytes: JSON_MAX_BYTES.config, what: 'a tokenizer_config.json' }) : {};
    return PreTrainedTokenizer.fromJSON(json, cfg, file);
  },
};
