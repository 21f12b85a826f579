/**
 * Checks of token-id arguments (`inputIds`, labels) shared by generation and every model family: a
 * string, one flat sequence or a tensor where a batch of id sequences belongs gets an error that
 * says how to get the right thing (encode first, wrap in a batch), never a TypeError from deep inside.
 */
import { ArgumentError } from '../errors.js';

/** What a value is, in words, for errors about arguments of the wrong kind. */
export function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return `a ${(v as object).constructor?.name ?? 'object'}`;
  return `a ${typeof v}`;
}

const EXPECTED = 'expected token ids (number[][]: a batch of sequences)';

/**
 * Checks that `ids` is a non-empty batch of sequences of integer token ids (in [0, vocabSize) when
 * given). The errors name `name` and say how to get there from what was passed: text is encoded
 * first, one sequence is wrapped in a batch.
 */
export function checkTokenIds(name: string, ids: unknown, vocabSize?: number): asserts ids is number[][] {
  if (typeof ids === 'string') throw new ArgumentError(`${name}: ${EXPECTED}, got a string; encode it first: [tokenizer.encode(text)]`);
  if (!Array.isArray(ids)) {
    const hint = typeof ids === 'object' && ids !== null && 'shape' in ids ? '; pass the ids as number[][], not a tensor' : '';
    throw new ArgumentError(`${name}: ${EXPECTED}, got ${kindOf(ids)}${hint}`);
  }
  if (ids.length === 0) throw new ArgumentError(`${name}: expected a non-empty batch of token id sequences (number[][]), got an empty batch []`);
  ids.forEach((row: unknown, b) => {
    if (typeof row === 'number') throw new ArgumentError(`${name}: ${EXPECTED}, got one flat sequence (number[]); wrap it in a batch: [ids]`);
    if (typeof row === 'string') throw new ArgumentError(`${name}: ${EXPECTED}, got string[]; encode each text first: texts.map((t) => tokenizer.encode(t))`);
    if (!Array.isArray(row)) throw new ArgumentError(`${name}[${b}]: expected a sequence of token ids (number[]), got ${kindOf(row)}`);
    if (row.length === 0) throw new ArgumentError(`${name}[${b}]: sequences must not be empty`);
    row.forEach((id: unknown, t) => {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
        throw new ArgumentError(`${name}[${b}][${t}] = ${typeof id === 'string' ? JSON.stringify(id) : String(id)}: expected an integer token id >= 0`);
      }
      if (vocabSize !== undefined && id >= vocabSize) {
        throw new ArgumentError(`${name}[${b}][${t}] = ${id} is not a token id of this model (vocabulary [0, ${vocabSize}))`);
      }
    });
  });
}

/**
 * One token id given as an option (eosTokenId, padTokenId): an integer in [0, vocabSize). A value
 * outside the vocabulary would never be generated (eos) or would be written into the output (pad).
 */
export function checkTokenIdOption(name: string, id: unknown, vocabSize: number): asserts id is number {
  if (typeof id !== 'number') {
    const what = typeof id === 'string' ? `a string ${JSON.stringify(id.slice(0, 20))}` : kindOf(id);
    throw new ArgumentError(`${name}: expected a token id, an integer in [0, ${vocabSize}) (the model's vocabulary), got ${what}`);
  }
  if (!Number.isSafeInteger(id) || id < 0) throw new ArgumentError(`${name} ${id} is not a token id: expected an integer in [0, ${vocabSize}) (the model's vocabulary)`);
  if (id >= vocabSize) throw new ArgumentError(`${name} ${id} is outside the vocabulary [0, ${vocabSize})`);
}
