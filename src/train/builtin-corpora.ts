/**
 * Text corpora shipped inside the package, so the training examples run with nothing but the npm
 * package (`"data": { "corpus": "tinyshakespeare" }` in a train config).
 */
import { ArgumentError } from '../errors.js';

const CORPORA: ReadonlyMap<string, { file: string; about: string }> = new Map([
  ['tinyshakespeare', { file: 'tinyshakespeare.txt', about: "Karpathy's TinyShakespeare, 1.1 MB of Shakespeare's plays" }],
]);

export const BUILTIN_CORPUS_NAMES: readonly string[] = [...CORPORA.keys()];

/** The corpus' location: a file: URL in Node, an http(s) URL next to the bundle in browsers. */
export function builtinCorpusUrl(name: string): string {
  const c = CORPORA.get(name);
  if (!c) throw new ArgumentError(`data.corpus: unknown corpus ${JSON.stringify(name)}; shipped: ${BUILTIN_CORPUS_NAMES.join(', ')}`);
  return new URL(`../../../data/${c.file}`, import.meta.url).href;
}
