/**
 * Unigram segmentation of one word (the best-scoring split into vocabulary pieces, Viterbi over
 * the lattice of pieces that start at each character) in typed arrays, for long words:
 * `@huggingface/tokenizers` builds and clones an object per lattice node, taking about a minute
 * per megabyte, and then appends the pieces with `push(...pieces)`, which throws "Maximum call
 * stack size exceeded" once a word has a few hundred thousand pieces.
 *
 * The result equals that package's `Unigram.tokenize(word)`, ties included: a node's predecessor
 * is the first node (in the package's insertion order: by start, ascending) ending where it
 * begins whose score plus the node's own is the largest, as its strict `>` comparison picks; a
 * character no piece starts with becomes a one-character unknown node with the unknown score.
 */

interface TrieNode {
  leaf: boolean;
  children: Map<string, TrieNode>;
}

/** What the segmentation reads of the package's Unigram model (public fields there). */
export interface UnigramScores {
  tokens_to_ids: Map<string, number>;
  scores: number[];
  unk_token_id?: number;
  unk_score: number;
}

/** Growable typed columns of lattice nodes. */
class Nodes {
  count = 0;
  start = new Int32Array(1024);
  length = new Int32Array(1024);
  prev = new Int32Array(1024);
  /** Score of the best path ending with this node. */
  best = new Float64Array(1024);
  /** Next node (by insertion) ending at the same position, or -1. */
  nextAtEnd = new Int32Array(1024);
  add(start: number, length: number): number {
    if (this.count === this.start.length) {
      const grow = <T extends Int32Array | Float64Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(a.length * 2);
        b.set(a);
        return b;
      };
      this.start = grow(this.start);
      this.length = grow(this.length);
      this.prev = grow(this.prev);
      this.best = grow(this.best);
      this.nextAtEnd = grow(this.nextAtEnd);
    }
    const i = this.count++;
    this.start[i] = start;
    this.length[i] = length;
    this.nextAtEnd[i] = -1;
    return i;
  }
}

export class UnigramSegmenter {
  private readonly root: TrieNode = { leaf: false, children: new Map() };

  /** `pieces`: the model's vocabulary strings (model.vocab[i][0] of tokenizer.json). */
  constructor(pieces: Iterable<string>) {
    for (const piece of pieces) {
      let node = this.root;
      for (const ch of piece) {
        let child = node.children.get(ch);
        if (!child) {
          child = { leaf: false, children: new Map() };
          node.children.set(ch, child);
        }
        node = child;
      }
      node.leaf = true;
    }
  }

  /** The pieces of `word` (as the package's `tokenize`, unknown characters as themselves). */
  segment(word: string, model: UnigramScores): string[] {
    const chars = Array.from(word);
    const n = chars.length;
    if (n === 0) return [];
    const offset = new Int32Array(n + 1); // UTF-16 offset of each character
    for (let i = 0; i < n; i++) offset[i + 1] = offset[i]! + chars[i]!.length;
    const pieceText = (start: number, length: number) => word.slice(offset[start], offset[start + length]);

    const nodes = new Nodes();
    const score: number[] = []; // per node
    const firstAtEnd = new Int32Array(n + 1).fill(-1);
    const lastAtEnd = new Int32Array(n + 1).fill(-1);
    const link = (node: number, end: number) => {
      if (lastAtEnd[end]! < 0) firstAtEnd[end] = node;
      else nodes.nextAtEnd[lastAtEnd[end]!] = node;
      lastAtEnd[end] = node;
    };
    // The start node ("bos"): ends at 0 with a best score of 0.
    const bos = nodes.add(0, 0);
    score[bos] = 0;
    nodes.best[bos] = 0;
    nodes.prev[bos] = -1;
    link(bos, 0);

    const candidates: number[] = [];
    const near: number[] = [];
    /**
     * The first node ending at `at` whose best + own is the largest, as the package's strict `>`
     * scan picks it. Floating-point addition is monotonic, so that largest value is (max best) +
     * own, and only nodes whose best is within rounding of the max can reach it: those are gathered
     * once per position (`near`, usually one node) and each candidate scans only them.
     */
    const gatherNear = (at: number, ownMagnitude: number): number => {
      let max = -Infinity;
      for (let l = firstAtEnd[at]!; l >= 0; l = nodes.nextAtEnd[l]!) if (nodes.best[l]! > max) max = nodes.best[l]!;
      const slack = (Math.abs(max) + ownMagnitude) * 1e-14;
      near.length = 0;
      for (let l = firstAtEnd[at]!; l >= 0; l = nodes.nextAtEnd[l]!) if (nodes.best[l]! >= max - slack) near.push(l);
      return max;
    };
    const pickPrev = (at: number, own: number, max: number): [number, number] => {
      const target = max + own;
      for (const l of near) if (nodes.best[l]! + own === target) return [l, target];
      // Not finite (an overflowing sum): the package's own scan, over every node ending here.
      let bestNode = -1;
      let bestScore = 0;
      for (let l = firstAtEnd[at]!; l >= 0; l = nodes.nextAtEnd[l]!) {
        const s = nodes.best[l]! + own;
        if (bestNode < 0 || s > bestScore) {
          bestNode = l;
          bestScore = s;
        }
      }
      return [bestNode, bestScore];
    };
    for (let pos = 0; pos < n; pos++) {
      // Nodes starting here: every vocabulary piece that is a prefix of the rest, shortest first,
      // then an unknown one-character node if no piece is a single character.
      candidates.length = 0;
      let hasSingle = false;
      let trie: TrieNode | undefined = this.root;
      for (let i = pos; i < n; i++) {
        trie = trie.children.get(chars[i]!);
        if (!trie) break;
        if (trie.leaf) {
          const length = i - pos + 1;
          const node = nodes.add(pos, length);
          const id = model.tokens_to_ids.get(pieceText(pos, length));
          score[node] = model.scores[id as number]!;
          candidates.push(node);
          if (length === 1) hasSingle = true;
        }
      }
      if (!hasSingle) {
        const node = nodes.add(pos, 1);
        score[node] = model.unk_score;
        candidates.push(node);
      }
      let ownMagnitude = 0;
      for (const node of candidates) ownMagnitude = Math.max(ownMagnitude, Math.abs(score[node]!));
      const max = gatherNear(pos, ownMagnitude);
      for (const node of candidates) {
        const [prev, best] = pickPrev(pos, score[node]!, max);
        nodes.prev[node] = prev;
        nodes.best[node] = best;
        link(node, pos + nodes.length[node]!);
      }
    }
    // The end node ("eos", score 0) picks the last piece the same way.
    let node = pickPrev(n, 0, gatherNear(n, 0))[0];
    const out: string[] = [];
    while (node >= 0 && node !== bos) {
      out.push(pieceText(nodes.start[node]!, nodes.length[node]!));
      node = nodes.prev[node]!;
    }
    return out.reverse();
  }
}
