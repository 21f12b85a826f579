/**
 * A corpus read through a HuggingFace tokenizer (e.g. GPT-NeoX's): the text is encoded once, and
 * training windows are drawn from the ids as for characters. Checkpoints carry the tokenizer's
 * files, so `mamba-ts generate --model <checkpoint>` reads them back.
 */
import { ArgumentError } from '../errors.js';
import { exists, joinPath, readText } from '../io/platform.js';
import { JSON_MAX_BYTES } from '../io/json.js';
import { AutoTokenizer } from '../io/tokenizer.js';
import type { Corpus } from './char-data.js';

export class TokenCorpus implements Corpus {
  readonly vocabulary = null;
  private constructor(
    readonly ids: Int32Array,
    readonly vocabSize: number,
    private readonly files: Record<string, string>,
  ) {}

  static async fromText(text: string, tokenizerDir: string): Promise<TokenCorpus> {
    const tok = await AutoTokenizer.fromPretrained(tokenizerDir);
    const ids = Int32Array.from(tok.encode(text, { addSpecialTokens: false }));
    if (ids.length === 0) throw new ArgumentError(`train: the corpus encodes to no tokens with ${tokenizerDir}`);
    const files: Record<string, string> = { 'tokenizer.json': await readText(joinPath(tokenizerDir, 'tokenizer.json'), { maxBytes: JSON_MAX_BYTES.tokenizer, what: 'a tokenizer.json' }) };
    const cfg = joinPath(tokenizerDir, 'tokenizer_config.json');
    if (await exists(cfg)) files['tokenizer_config.json'] = await readText(cfg, { maxBytes: JSON_MAX_BYTES.config, what: 'a tokenizer_config.json' });
    return new TokenCorpus(ids, tok.vocabSize, files);
  }

  tokenizerFiles(): Record<string, string> {
    return this.files;
  }

  split(fraction: number): { train: Int32Array; valid: Int32Array } {
    const cut = Math.floor(this.ids.length * (1 - fraction));
    return { train: this.ids.subarray(0, cut), valid: this.ids.subarray(cut) };
  }
}
