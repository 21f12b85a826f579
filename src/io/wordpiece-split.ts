/**
 * WordPiece splitting (greedy longest match from the left, "##"-prefixed pieces after the first,
 * the whole word unknown if some position has no match) over a trie of the vocabulary: O(length ×
 * longest token) per word. `@huggingface/tokenizers` tries every end position from the word's end
 * down, joining a fresh substring each time, O(length³) per word: 1 MB of 99-letter words took
 * 30 s; and it appends the pieces with `push(...pieces)`, which overflows the stack on a word of
 * a few hundred thousand pieces (reachable with a large `max_input_chars_per_word`).
 *
 * The result equals that package's `WordPieceTokenizer.encode(words)` for every input.
 */

interface TrieNode {
  /** This path spells a token of the vocabulary. */
  token: boolean;
  children: Map<string, TrieNode>;
}

/** What the splitter reads of the package's WordPiece model (public fields there). */
export interface WordPieceModel {
  tokens_to_ids: Map<string, number>;
  unk_token?: string;
  max_input_chars_per_word: number;
  config: { continuing_subword_prefix?: unknown };
}

export class WordPieceSplitter {
  private readonly root: TrieNode = { token: false, children: new Map() };
  /** The trie node reached by the continuation prefix, where every later piece starts. */
  private readonly continuation: TrieNode | undefined;

  /** Built from the model's token → id map as it is after the package added the added tokens. */
  constructor(private readonly model: WordPieceModel) {
    for (const token of model.tokens_to_ids.keys()) {
      let node = this.root;
      for (const ch of token) {
        let child = node.children.get(ch);
        if (!child) {
          child = { token: false, children: new Map() };
          node.children.set(ch, child);
        }
        node = child;
      }
      node.token = true;
    }
    // The package concatenates the configured prefix as it is (so a missing one reads "undefined").
    let node: TrieNode | undefined = this.root;
    for (const ch of `${model.config.continuing_subword_prefix as string}`) node = node?.children.get(ch);
    this.continuation = node;
  }

  /** The pieces of every word, in order (an unknown word as the unknown token). */
  encode(words: readonly string[]): (string | undefined)[] {
    const out: (string | undefined)[] = [];
    const prefix = `${this.model.config.continuing_subword_prefix as string}`;
    for (const word of words) {
      const chars = Array.from(word);
      if (chars.length > this.model.max_input_chars_per_word) {
        out.push(this.model.unk_token);
        continue;
      }
      const pieces: string[] = [];
      let start = 0;
      while (start < chars.length) {
        let node = start === 0 ? this.root : this.continuation;
        let end = -1;
        for (let i = start; node && i < chars.length; i++) {
          node = node.children.get(chars[i]!);
          if (node?.token) end = i + 1;
        }
        if (end < 0) break;
        const text = chars.slice(start, end).join('');
        pieces.push(start === 0 ? text : prefix + text);
        start = end;
      }
      if (start < chars.length) out.push(this.model.unk_token);
      else for (const p of pieces) out.push(p);
    }
    return out;
  }
}
