/**
 * A character-level corpus (e.g. TinyShakespeare): the vocabulary is the sorted set of characters,
 * and training windows of seqLen + 1 ids are drawn at seeded random offsets.
 */
import { ArgumentError } from '../errors.js';
import { RandomSource } from '../ops/random.js';

/** What the trainer needs of a corpus: ids, their vocabulary size, a split, the tokenizer files. */
export interface Corpus {
  readonly ids: Int32Array;
  readonly vocabSize: number;
  /** The characters of a character corpus (kept in trainer_state.json); null for a tokenizer's. */
  readonly vocabulary: string[] | null;
  split(fraction: number): { train: Int32Array; valid: Int32Array };
  /** Files written beside each checkpoint so that its model can be run on text. */
  tokenizerFiles(): Record<string, string>;
}

export class CharCorpus implements Corpus {
  readonly chars: string[];
  /** Code point → id. Keyed by number so that reading a corpus allocates no string per character. */
  private readonly index = new Map<number, number>();
  readonly ids: Int32Array;

  /**
   * Two passes over the code points of `text`, writing ids straight into one Int32Array: memory is
   * the text plus 4 bytes a character (`Int32Array.from(text, …)` first gathered every character
   * as a string, several times that, and ran out of memory on a 10 MB text).
   */
  constructor(text: string) {
    const seen = new Set<number>();
    let count = 0;
    for (let i = 0; i < text.length; i++) {
      const cp = text.codePointAt(i)!;
      if (cp > 0xffff) i++;
      seen.add(cp);
      count++;
    }
    this.chars = [...seen].map((cp) => String.fromCodePoint(cp)).sort();
    this.chars.forEach((c, i) => this.index.set(c.codePointAt(0)!, i));
    this.ids = new Int32Array(count);
    let n = 0;
    for (let i = 0; i < text.length; i++) {
      const cp = text.codePointAt(i)!;
      if (cp > 0xffff) i++;
      this.ids[n++] = this.index.get(cp)!;
    }
  }

  get vocabSize(): number {
    return this.chars.length;
  }

  get vocabulary(): string[] {
    return this.chars;
  }

  tokenizerFiles(): Record<string, string> {
    return { 'tokenizer.json': `${JSON.stringify(this.tokenizerJson())}\n` };
  }

  encode(s: string): number[] {
    const out: number[] = [];
    for (let i = 0; i < s.length; i++) {
      const cp = s.codePointAt(i)!;
      if (cp > 0xffff) i++;
      const id = this.index.get(cp);
      if (id === undefined) throw new ArgumentError(`encode: character ${JSON.stringify(String.fromCodePoint(cp))} is not in the corpus vocabulary`);
      out.push(id);
    }
    return out;
  }

  /** The text of `ids`; an id outside the vocabulary is an error, never a silent gap. */
  decode(ids: readonly number[]): string {
    // Joined in slices: one array of as many strings as ids would cost far more than the text.
    const parts: string[] = [];
    const SLICE = 1 << 16;
    for (let start = 0; start < ids.length; start += SLICE) {
      let piece = '';
      for (let i = start; i < Math.min(ids.length, start + SLICE); i++) {
        const c = this.chars[ids[i]!];
        if (c === undefined || !Number.isInteger(ids[i])) throw new ArgumentError(`decode: token id ${ids[i]} is outside the vocabulary [0, ${this.chars.length})`);
        piece += c;
      }
      parts.push(piece);
    }
    return parts.join('');
  }

  /**
   * The vocabulary as a HuggingFace tokenizer.json: a BPE model without merges and without a
   * pre-tokenizer splits text into single characters, and the Fuse decoder joins them back, so
   * `AutoTokenizer` (and `mamba-ts generate`) read a character model's checkpoint as any other.
   */
  tokenizerJson(): Record<string, unknown> {
    return {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [],
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: { type: 'Fuse' },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: false,
        vocab: Object.fromEntries(this.chars.map((c, i) => [c, i])),
        merges: [],
      },
    };
  }

  /** Splits into a training and a validation corpus (the last `fraction` of the text). */
  split(fraction: number): { train: Int32Array; valid: Int32Array } {
    const cut = Math.floor(this.ids.length * (1 - fraction));
    return { train: this.ids.subarray(0, cut), valid: this.ids.subarray(cut) };
  }
}

/** `batch` windows of `seqLen` ids at random offsets of `ids` (seeded). */
export function sampleWindows(ids: Int32Array, batch: number, seqLen: number, rng: RandomSource): number[][] {
  if (ids.length < seqLen + 1) {
    throw new ArgumentError(`sampleWindows: the data has ${ids.length} tokens, fewer than one window of ${seqLen + 1}`);
  }
  return Array.from({ length: batch }, () => {
    const at = Math.floor(rng.next() * (ids.length - seqLen));
    return Array.from(ids.subarray(at, at + seqLen));
  });
}
