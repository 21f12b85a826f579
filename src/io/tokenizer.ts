/**
 * Tokenizers from HF `tokenizer.json`, through the maintained `@huggingface/tokenizers` package
 * (the tokenizers of transformers.js); this file only loads, checks and names things.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { ArgumentError, FormatError } from '../errors.js';
import { exists, joinPath, readText } from './platform.js';

type Json = Record<string, unknown>;

/** A special token in tokenizer_config.json is a string or an object with `content`. */
function tokenContent(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as Json)['content'] === 'string') return (v as Json)['content'] as string;
  return undefined;
}

export class PreTrainedTokenizer {
  readonly vocabSize: number;
  readonly eosTokenId: number | undefined;
  readonly bosTokenId: number | undefined;
  readonly padTokenId: number | undefined;

  private constructor(
    private readonly tok: Tokenizer,
    config: Json,
  ) {
    this.vocabSize = tok.get_vocab(true).size;
    const added = [...tok.get_added_tokens_decoder().entries()];
    const special = (key: string, fallback?: string): number | undefined => {
      const content = tokenContent(config[key]) ?? fallback;
      return content === undefined ? undefined : tok.token_to_id(content);
    };
    // Without a tokenizer_config.json, GPT-style vocabularies mark the end with <|endoftext|>.
    const endOfText = added.find(([, t]) => t.content === '<|endoftext|>')?.[1].content;
    this.eosTokenId = special('eos_token', endOfText);
    this.bosTokenId = special('bos_token', endOfText);
    this.padTokenId = special('pad_token');
  }

  /** From parsed tokenizer.json (and optional tokenizer_config.json); `source` names the file in errors. */
  static fromJSON(tokenizerJson: unknown, tokenizerConfig: unknown = {}, source = 'tokenizer.json'): PreTrainedTokenizer {
    if (!tokenizerJson || typeof tokenizerJson !== 'object' || Array.isArray(tokenizerJson)) {
      throw new FormatError(source, 'expected a JSON object (a HuggingFace tokenizer.json)');
    }
    const j = tokenizerJson as Json;
    const model = j['model'];
    if (!model || typeof model !== 'object' || typeof (model as Json)['vocab'] !== 'object') {
      throw new FormatError(source, 'no "model" with a "vocab": not a HuggingFace tokenizer.json');
    }
    const config = tokenizerConfig && typeof tokenizerConfig === 'object' ? (tokenizerConfig as Json) : {};
    let tok: Tokenizer;
    try {
      tok = new Tokenizer(j, config);
    } catch (e) {
      throw new FormatError(source, `cannot build a tokenizer from it: ${(e as Error).message}`);
    }
    return new PreTrainedTokenizer(tok, config);
  }

  encode(text: string, o: { addSpecialTokens?: boolean } = {}): number[] {
    if (typeof text !== 'string') throw new ArgumentError(`encode: expected a string, got ${typeof text}`);
    return this.tok.encode(text, { add_special_tokens: o.addSpecialTokens ?? true }).ids;
  }

  tokenize(text: string): string[] {
    return this.tok.tokenize(text);
  }

  decode(ids: readonly number[], o: { skipSpecialTokens?: boolean } = {}): string {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new ArgumentError(`decode: token id ${id} is outside the vocabulary [0, ${this.vocabSize})`);
      }
    }
    if (ids.length === 0) return '';
    return this.tok.decode([...ids], { skip_special_tokens: o.skipSpecialTokens ?? false });
  }

  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }
  idToToken(id: number): string | undefined {
    return this.tok.id_to_token(id);
  }
}

async function readJson(path: string): Promise<unknown> {
  const text = await readText(path);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new FormatError(path, `not valid JSON: ${(e as Error).message}`);
  }
}

export const AutoTokenizer = {
  /** Loads `<dir>/tokenizer.json` and, when present, `<dir>/tokenizer_config.json`. */
  async fromPretrained(dir: string): Promise<PreTrainedTokenizer> {
    const file = joinPath(dir, 'tokenizer.json');
    if (!(await exists(file))) throw new FormatError(file, 'missing: a tokenizer folder needs tokenizer.json');
    const json = await readJson(file);
    const cfgFile = joinPath(dir, 'tokenizer_config.json');
    const cfg = (await exists(cfgFile)) ? await readJson(cfgFile) : {};
    return PreTrainedTokenizer.fromJSON(json, cfg, file);
  },
};
