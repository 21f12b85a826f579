/**
 * Byte-pair merging of one pre-tokenized word in O(n log n) time and O(n) memory of typed arrays,
 * for the words that `@huggingface/tokenizers`' own merge is too slow or too large for: it builds an
 * object per character, serialises every neighbouring pair to a JSON string to find its rank, and
 * keeps stale entries in its heap; one unbroken word of 1 MB took 17–30 s, and a 10 MB word (what a
 * character-level model's tokenizer sees for any text without merges) ran out of memory.
 *
 * The result equals that package's `BPE.bpe(word)` (and the Rust tokenizers library's merge) for
 * every word: repeatedly merge the neighbouring pair with the lowest rank, the leftmost first among
 * equal ranks, until no neighbouring pair has a rank. A merge listed twice keeps its later rank, as
 * both libraries do.
 */

/** What the merger needs of a BPE model: its merges as pairs, and the two suffixes it appends. */
export interface BpeMergeRules {
  merges: readonly (readonly [string, string])[];
  /** Appended to the last character of the word before merging (e.g. "</w>"), if non-empty. */
  endOfWordSuffix?: string | null;
  /** Appended to every piece but the last after merging, if non-empty. */
  continuingSubwordSuffix?: string | null;
}

/**
 * (left id, right id) → rank, an open-addressing hash table in typed arrays: a Map keyed by
 * left × count + right would box every key past 2^31 into a heap number, several times slower.
 */
class PairRanks {
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  private readonly rank: Int32Array;
  private readonly mask: number;
  constructor(pairs: number) {
    let capacity = 16;
    while (capacity < pairs * 2) capacity *= 2;
    this.mask = capacity - 1;
    this.left = new Int32Array(capacity).fill(-1);
    this.right = new Int32Array(capacity);
    this.rank = new Int32Array(capacity);
  }
  private slot(a: number, b: number): number {
    let i = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca6b)) & this.mask;
    while (this.left[i] !== -1 && (this.left[i] !== a || this.right[i] !== b)) i = (i + 1) & this.mask;
    return i;
  }
  /** Sets the rank of (a, b); a later set of the same pair overwrites. */
  set(a: number, b: number, rank: number): void {
    const i = this.slot(a, b);
    this.left[i] = a;
    this.right[i] = b;
    this.rank[i] = rank;
  }
  /** The rank of (a, b), or -1. */
  get(a: number, b: number): number {
    const i = this.slot(a, b);
    return this.left[i] === -1 ? -1 : this.rank[i]!;
  }
}

/** A growable binary min-heap of float64 keys (rank × word length + position). */
class KeyHeap {
  private keys: Float64Array;
  size = 0;
  constructor(capacity: number) {
    this.keys = new Float64Array(Math.max(16, capacity));
  }
  push(key: number): void {
    if (this.size === this.keys.length) {
      const grown = new Float64Array(this.keys.length * 2);
      grown.set(this.keys);
      this.keys = grown;
    }
    const k = this.keys;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (k[parent]! <= key) break;
      k[i] = k[parent]!;
      i = parent;
    }
    k[i] = key;
  }
  pop(): number {
    const k = this.keys;
    const top = k[0]!;
    const last = k[--this.size]!;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= this.size) break;
      if (child + 1 < this.size && k[child + 1]! < k[child]!) child++;
      if (k[child]! >= last) break;
      k[i] = k[child]!;
      i = child;
    }
    k[i] = last;
    return top;
  }
}

export class BpeMerger {
  /** Every string that takes part in a merge (left, right or result), numbered. */
  private readonly symbolIds = new Map<string, number>();
  private readonly symbols: string[] = [];
  private readonly ranks: PairRanks;
  /** rank → the id of the merged symbol. */
  private readonly mergedSymbol: Int32Array;
  private readonly endOfWordSuffix: string;
  private readonly continuingSubwordSuffix: string;

  constructor(rules: BpeMergeRules) {
    const intern = (s: string): number => {
      let id = this.symbolIds.get(s);
      if (id === undefined) {
        id = this.symbols.length;
        this.symbolIds.set(s, id);
        this.symbols.push(s);
      }
      return id;
    };
    const pairs = rules.merges.map(([a, b]) => [intern(a), intern(b), intern(a + b)] as const);
    this.ranks = new PairRanks(pairs.length);
    this.mergedSymbol = new Int32Array(pairs.length);
    pairs.forEach(([a, b, merged], rank) => {
      this.ranks.set(a, b, rank); // a later duplicate overwrites: the later rank wins
      this.mergedSymbol[rank] = merged;
    });
    this.endOfWordSuffix = rules.endOfWordSuffix || '';
    this.continuingSubwordSuffix = rules.continuingSubwordSuffix || '';
  }

  /** The rank of merging symbols a and b, or -1; ids past the table (characters in no merge) never merge. */
  private rank(a: number, b: number): number {
    const count = this.symbols.length;
    if (a >= count || b >= count) return -1;
    return this.ranks.get(a, b);
  }

  /** The pieces of `word` after merging (empty for an empty word). */
  merge(word: string): string[] {
    if (word.length === 0) return [];
    // Characters (code points) as symbol ids; one not in any merge gets a local id past the table.
    const local = new Map<string, number>();
    const localText: string[] = [];
    const base = this.symbols.length;
    const idOf = (s: string): number => {
      const id = this.symbolIds.get(s);
      if (id !== undefined) return id;
      let l = local.get(s);
      if (l === undefined) {
        l = base + localText.length;
        local.set(s, l);
        localText.push(s);
      }
      return l;
    };
    const sym = new Int32Array(word.length); // at most one symbol per UTF-16 unit
    let n = 0;
    for (const ch of word) sym[n++] = idOf(ch);
    if (this.endOfWordSuffix) sym[n - 1] = idOf(this.textOf(sym[n - 1]!, localText) + this.endOfWordSuffix);

    // Symbols form a doubly linked list over their first character's index; a merged-away symbol
    // is unlinked. The heap holds rank × n + index of the left symbol: lowest rank, then leftmost.
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const alive = new Uint8Array(n).fill(1);
    const heap = new KeyHeap(n);
    const pushPair = (left: number): void => {
      const right = next[left]!;
      if (right < 0) return;
      const r = this.rank(sym[left]!, sym[right]!);
      if (r >= 0) heap.push(r * n + left);
    };
    for (let i = 0; i + 1 < n; i++) pushPair(i);
    while (heap.size > 0) {
      const key = heap.pop();
      let r = Math.floor(key / n);
      if (r * n > key) r--; // the division rounded up
      const left = key - r * n;
      const right = next[left]!;
      // A stale entry: its left symbol was merged away, or either side has grown since (a symbol
      // only grows, so a pair with the same rank is the same pair).
      if (!alive[left] || right < 0 || this.rank(sym[left]!, sym[right]!) !== r) continue;
      sym[left] = this.mergedSymbol[r]!;
      alive[right] = 0;
      const after = next[right]!;
      next[left] = after;
      if (after >= 0) prev[after] = left;
      if (prev[left]! >= 0) pushPair(prev[left]!);
      pushPair(left);
    }

    const pieces: string[] = [];
    for (let i = 0; i >= 0; i = next[i]!) pieces.push(this.textOf(sym[i]!, localText));
    if (this.continuingSubwordSuffix) for (let i = 0; i < pieces.length - 1; i++) pieces[i] += this.continuingSubwordSuffix;
    return pieces;
  }

  private textOf(id: number, localText: readonly string[]): string {
    return id < this.symbols.length ? this.symbols[id]! : localText[id - this.symbols.length]!;
  }
}
