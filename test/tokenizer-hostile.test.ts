/**
 * Hostile tokenizer files and inputs (issue 14): ids and vocabularies the package would trust,
 * patterns that backtrack exponentially, words long enough to make the package's BPE superlinear,
 * files that are not JSON. Work that would hang or exhaust memory before the fix runs in a child
 * process with a heap limit and a wall-clock timeout, so a regression fails (killed or out of
 * memory) instead of hanging the suite; nothing measures time.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import * as hfTokenizers from '@huggingface/tokenizers';
import { FormatError } from '../src/errors.js';
import { BpeMerger } from '../src/io/bpe-merge.js';
import { byteLevelBpeGgufMetadata } from '../src/io/gguf-tokenizer.js';
import { checkPatternSafety } from '../src/io/regex-safety.js';
import { UnigramSegmenter } from '../src/io/unigram-viterbi.js';
import { WordPieceSplitter } from '../src/io/wordpiece-split.js';
import { MAX_ID_SLACK, MAX_ID_SLACK_FACTOR } from '../src/io/tokenizer-check.js';
import { AutoTokenizer, LONG_WORD, PreTrainedTokenizer } from '../src/io/tokenizer.js';
import { CharCorpus } from '../src/train/char-data.js';
import { SHARED } from './helpers.js';

const neoxFile = resolve(SHARED, 'data/tokenizers/gpt-neox-20b/tokenizer.json');
const neoxJson = JSON.parse(readFileSync(neoxFile, 'utf8')) as Record<string, unknown>;
const TOKENIZER_JS = new URL('../src/io/tokenizer.js', import.meta.url).href;
const CHAR_DATA_JS = new URL('../src/train/char-data.js', import.meta.url).href;

const tmp = mkdtempSync(join(tmpdir(), 'mamba-ts-tok-hostile-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A tiny BPE tokenizer.json with the given model fields (and any top-level fields). */
function bpe(model: Record<string, unknown>, top: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: { type: 'BPE', vocab: { a: 0, b: 1, ab: 2 }, merges: ['a b'], ...model }, ...top };
}

/** Asserts fromJSON refuses `json` with a FormatError naming tokenizer.json and matching `re`. */
function refuses(json: unknown, re: RegExp): void {
  assert.throws(
    () => PreTrainedTokenizer.fromJSON(json),
    (e: unknown) => e instanceof FormatError && e.message.startsWith('tokenizer.json: ') && re.test(e.message),
  );
}

/**
 * Runs an ES module script in a fresh Node with a heap limit (MiB) and a wall-clock timeout (ms);
 * returns its stdout, failing with what went wrong (killed, out of memory, an exception).
 */
function isolated(script: string, heapMiB: number, timeoutMs: number): string {
  const r = spawnSync(process.execPath, [`--max-old-space-size=${heapMiB}`, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: timeoutMs });
  const tail = (s: string) => s.split('\n').filter((l) => !/^\s*\d+: 0x/.test(l)).slice(-8).join('\n');
  assert.equal(r.signal, null, `killed by ${r.signal} (timeout ${timeoutMs} ms, heap ${heapMiB} MiB): ${tail(r.stderr)}`);
  assert.equal(r.status, 0, `exit ${r.status}: ${tail(r.stderr)}`);
  return r.stdout;
}

/** Deterministic words over `alphabet` (mulberry32). */
function words(alphabet: string[], count: number, maxLength: number, seed: number): string[] {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from({ length: count }, () => Array.from({ length: 1 + Math.floor(next() * maxLength) }, () => alphabet[Math.floor(next() * alphabet.length)]!).join(''));
}

/** The package's own Tokenizer class (its declarations do not resolve; see src/io/tokenizer.ts). */
const PackageTokenizer = hfTokenizers.Tokenizer as unknown as new (json: unknown, config: unknown) => { model: Record<string, unknown> & { bpe(w: string): string[]; merges: [string, string][]; tokenize(w: string): string[]; encode(w: string[]): (string | undefined)[] } };
/** The package's model for a tokenizer.json, built without our paths (the reference). */
function packageModel(json: Record<string, unknown>) {
  return new PackageTokenizer({ normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, added_tokens: [], ...json }, {}).model;
}

describe('vocabulary ids are checked before the package sees them', () => {
  test('an id of 1e9, in the vocabulary or the added tokens, is refused at once (in a child with a timeout)', () => {
    // Before: loading walked a billion array slots, 68 s (longer on a loaded machine).
    const out = isolated(
      `import { PreTrainedTokenizer } from ${JSON.stringify(TOKENIZER_JS)};
       const model = { type: 'BPE', vocab: { a: 0, b: 1, ab: 2 }, merges: ['a b'] };
       for (const json of [{ model: { ...model, vocab: { a: 0, b: 1, ab: 1e9 } } }, { model, added_tokens: [{ id: 1e9, content: '</s>', special: true }] }]) {
         try { PreTrainedTokenizer.fromJSON(json); console.log('loaded'); } catch (e) { console.log(e.name + ': ' + e.message); }
       }`,
      256,
      20_000,
    );
    const [vocab, added] = out.trim().split('\n');
    assert.match(vocab!, /^FormatError: tokenizer\.json: token id 1000000000 \("ab"\) is far beyond the 3 tokens; ids must be below 262 \(2 × the number of tokens \+ 256\)$/);
    assert.match(added!, /^FormatError: tokenizer\.json: token id 1000000000 \("<\/s>"\) is far beyond the 4 tokens; ids must be below 264/);
    assert.equal(MAX_ID_SLACK_FACTOR * 3 + MAX_ID_SLACK, 262);
  });
  test('holes in the ids are allowed up to the bound, and the vocabulary size is the largest id + 1', () => {
    const t = PreTrainedTokenizer.fromJSON(bpe({ vocab: { a: 0, b: 1, ab: 261 } }));
    assert.equal(t.vocabSize, 262);
    assert.deepEqual(t.encode('abab'), [261, 261]);
    assert.equal(t.decode([261]), 'ab');
    assert.throws(() => t.decode([100]), /token id 100 is outside the vocabulary/);
  });
  test('a vocabulary value that is not an integer id is refused, never returned by encode', () => {
    refuses(bpe({ vocab: { a: 0, b: 1, ab: 'x' } }), /model\.vocab: token "ab" has id the string "x"; expected a non-negative integer/);
    refuses(bpe({ vocab: { a: 0, b: 1.5, ab: 2 } }), /token "b" has id 1\.5/);
    refuses(bpe({ vocab: { a: -1, b: 1, ab: 2 } }), /token "a" has id -1/);
    refuses(bpe({ vocab: { a: 0, b: null, ab: 2 } }), /token "b" has id null/);
    refuses(bpe({ vocab: { a: 0, b: [1], ab: 2 } }), /token "b" has id an array/);
  });
  test('two tokens with one id are refused', () => {
    refuses(bpe({ vocab: { a: 0, b: 0, ab: 2 } }), /model\.vocab: id 0 of token "b" is already the id of "a"/);
    refuses(bpe({}, { added_tokens: [{ id: 1, content: '</s>' }] }), /added_tokens\[0\]: id 1 of token "<\/s>" is already the id of "b"/);
  });
  test('an added token also in the vocabulary must have the vocabulary’s id; one added twice, one id', () => {
    refuses(bpe({}, { added_tokens: [{ id: 5, content: 'ab' }] }), /added_tokens\[0\]: token "ab" has id 5, but model\.vocab gives it id 2/);
    refuses(bpe({}, { added_tokens: [{ id: 3, content: '<s>' }, { id: 4, content: '<s>' }] }), /added_tokens\[1\]: token "<s>" has id 4, but an earlier added token gives it id 3/);
    const t = PreTrainedTokenizer.fromJSON(bpe({}, { added_tokens: [{ id: 2, content: 'ab', special: false }, { id: 3, content: '<s>' }, { id: 3, content: '<s>' }] }));
    assert.equal(t.vocabSize, 4);
  });
  test('malformed added tokens are refused', () => {
    refuses(bpe({}, { added_tokens: { id: 3 } }), /added_tokens must be an array, got an object/);
    refuses(bpe({}, { added_tokens: [{ id: 3 }] }), /added_tokens\[0\] needs a string "content" and an "id"/);
    refuses(bpe({}, { added_tokens: [{ id: '3', content: '<s>' }] }), /added_tokens\[0\]: token "<s>" has id the string "3"/);
  });
});

describe('the vocabulary has the shape its model type needs', () => {
  test('a BPE or WordPiece vocabulary given as an array is refused (it encoded everything to [])', () => {
    refuses(bpe({ vocab: [['a', 0], ['b', 0]] }), /model\.vocab of a BPE model must be an object of token → id, got an array/);
    refuses({ model: { type: 'WordPiece', unk_token: '[UNK]', vocab: ['a', 'b'] } }, /model\.vocab of a WordPiece model must be an object/);
  });
  test('a Unigram vocabulary must be an array of [token, score] pairs, unique, with unk_id inside it', () => {
    refuses({ model: { type: 'Unigram', unk_id: 0, vocab: { a: 0 } } }, /model\.vocab of a Unigram model must be an array of \[token, score\] pairs, got an object/);
    refuses({ model: { type: 'Unigram', unk_id: 0, vocab: [['<unk>', 0], ['a', 'x']] } }, /model\.vocab\[1\] must be a \[token, score\] pair of a string and a finite number/);
    refuses({ model: { type: 'Unigram', unk_id: 0, vocab: [['<unk>', 0], ['a', -1], ['a', -2]] } }, /model\.vocab\[2\]: token "a" is already model\.vocab\[1\]/);
    refuses({ model: { type: 'Unigram', unk_id: 7, vocab: [['<unk>', 0], ['a', -1]] } }, /model\.unk_id is 7; expected an index into model\.vocab \[0, 2\)/);
    const t = PreTrainedTokenizer.fromJSON({ model: { type: 'Unigram', unk_id: 0, vocab: [['<unk>', 0], ['a', -1], ['b', -1], ['ab', -1.5]] } });
    assert.deepEqual(t.encode('abab'), [3, 3]);
    assert.equal(t.vocabSize, 4);
  });
  test('BPE merges all of one form; string settings are strings', () => {
    refuses(bpe({ merges: ['a b', ['a', 'b']] }), /model\.merges\[1\] must be a "left right" string \(one space\), like model\.merges\[0\]/);
    refuses(bpe({ merges: [['a', 'b'], 'a b'] }), /model\.merges\[1\] must be a \[left, right\] pair of strings/);
    refuses(bpe({ merges: ['a b c'] }), /model\.merges\[0\] must be a "left right" string/);
    refuses(bpe({ unk_token: 5 }), /model\.unk_token must be a string or null, got a number/);
    refuses({ model: { type: 'WordPiece', unk_token: '[UNK]', vocab: { '[UNK]': 0 }, max_input_chars_per_word: 1e400 } }, /max_input_chars_per_word is Infinity; expected a positive integer/);
  });
  test('without a "type", the model is recognised as the package would, or refused', () => {
    const t = PreTrainedTokenizer.fromJSON({ model: { vocab: { a: 0, b: 1, ab: 2 }, merges: ['a b'] } });
    assert.deepEqual(t.encode('ab'), [2]);
    refuses({ model: { vocab: { a: 0 } } }, /model has no "type" and is none of BPE, WordPiece, Unigram/);
    refuses({ model: { type: 'WordLevel', vocab: { a: 0 } } }, /model type "WordLevel" is not supported/);
  });
});

describe('patterns that backtrack exponentially are refused', () => {
  const split = (Regex: string) => bpe({}, { pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex }, behavior: 'Isolated', invert: false }] } });
  test('(a+)+$ in a Split: a clean error at load, in a child that would otherwise run for minutes', () => {
    // Before the check, 26 a's took 12 s and each further one doubled it: 40 would take days.
    const json = JSON.stringify(split('(a+)+$'));
    const out = isolated(
      `import { PreTrainedTokenizer } from ${JSON.stringify(TOKENIZER_JS)};
       let t;
       try { t = PreTrainedTokenizer.fromJSON(${json}); } catch (e) { console.log(e.name + ': ' + e.message); process.exit(0); }
       console.log('encoded', t.encode('a'.repeat(40) + 'b').length);`,
      128,
      10_000,
    );
    assert.match(out, /^FormatError: tokenizer\.json: pre_tokenizer\.pretokenizers\[0\]\.pattern\.Regex is refused: at character 0, a group that repeats and itself holds a quantifier or an alternation .* can take exponential time on some inputs/);
  });
  test('in normalizers and decoders too', () => {
    refuses(bpe({}, { normalizer: { type: 'Replace', pattern: { Regex: '(?:x|xy)*$' }, content: '' } }), /normalizer\.pattern\.Regex is refused/);
    refuses(bpe({}, { decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { Regex: '(\\w+\\s?)+' }, content: '' }] } }), /decoder\.decoders\[0\]\.pattern\.Regex is refused/);
    refuses(bpe({}, { normalizer: { type: 'Replace', pattern: { Regex: 42 }, content: '' } }), /normalizer\.pattern\.Regex must be a string, got a number/);
  });
  test('what the check refuses and what it lets through', () => {
    const refused = ['(a+)+$', '(a*)*', '(a|aa)+b', '(?:\\w+\\s?)*$', '(a?){30}', '(?<name>a+){2,}', '(?i:a|b)+', '((ab)+c)*', 'x(?:y[a-z]*)+'];
    for (const p of refused) assert.ok(checkPatternSafety(p), `${p} should be refused`);
    const accepted = [
      // Llama 3, GPT-4o, DeepSeek, Bloom, GPT-2's own split and a Replace of runs of spaces.
      String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
      String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
      String.raw`[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_\`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
      String.raw` ?[^(\s|[.,!?…。，、।۔،])]+`,
      String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`,
      ' {2,}',
      // Parentheses and quantifiers that are not groups: in classes, escaped, in a comment.
      '[(a+)+]',
      '\\(a+\\)+',
      '(?#(a+)+)x',
      '(?:ab)+',
      '(?:x+)?',
    ];
    for (const p of accepted) assert.equal(checkPatternSafety(p), undefined, `${p} should be accepted`);
  });
  test('a Llama-3 style Split still tokenizes', () => {
    const t = PreTrainedTokenizer.fromJSON(
      bpe({ vocab: { a: 0, b: 1, ab: 2, "'": 3, s: 4, ' ': 5 } }, { pre_tokenizer: { type: 'Split', pattern: { Regex: String.raw`(?i:'s|'t)|[^\r\n\p{L}\p{N}]?\p{L}+|\s+(?!\S)|\s+` }, behavior: 'Isolated', invert: false } }),
    );
    assert.deepEqual(t.tokenize("ab's ab"), ['ab', "'", 's', ' ', 'ab']);
  });
});

describe('long words are merged in O(n log n), with the package’s result', () => {
  const neox = PreTrainedTokenizer.fromJSON(neoxJson);
  const reference = packageModel(neoxJson);
  const merger = new BpeMerger({ merges: reference.merges });

  test('BpeMerger equals the package’s bpe on words of every length (GPT-NeoX merges)', () => {
    const latin = [...'etaoinshrdlucmfwypvbgkqjxz', 'Ġ', 'Ċ', ...'0123456789'];
    const skewed = ['a', 'a', 'a', 'b', 'n', 'Ġ'];
    const bytes = [...'ĠâĢ¢ðŁĺĢìĿ´Ã©'];
    for (const [name, alphabet] of [['latin', latin], ['skewed', skewed], ['bytes', bytes]] as const) {
      for (const w of words([...alphabet], 150, 600, name.length)) assert.deepEqual(merger.merge(w), reference.bpe(w), `${name}: ${w.slice(0, 30)}…`);
    }
    const long = words(latin, 2, 20_000, 7);
    for (const w of long) assert.deepEqual(merger.merge(w), reference.bpe(w));
    assert.deepEqual(merger.merge(''), reference.bpe(''));
  });

  test('suffixes, duplicate merges (the later rank wins) and characters in no merge', () => {
    const rules = { merges: [['a', 'b'], ['b', 'c'], ['a', 'b']] as [string, string][], endOfWordSuffix: '</w>', continuingSubwordSuffix: '@@' };
    const pkg = packageModel({ model: { type: 'BPE', vocab: { a: 0, b: 1, c: 2, ab: 3, bc: 4 }, merges: rules.merges, end_of_word_suffix: '</w>', continuing_subword_suffix: '@@' } });
    const m = new BpeMerger(rules);
    for (const w of ['abc', 'abcabc', 'xabz', 'ab', 'c', 'ébc', 'abcb'.repeat(100)]) assert.deepEqual(m.merge(w), pkg.bpe(w), w);
  });

  test(`words of ${LONG_WORD}+ characters take the fast path inside encode, with the same ids`, () => {
    const w = 'banana'.repeat(200); // one pre-tokenized word
    assert.ok(w.length >= LONG_WORD);
    const expected = reference.bpe(w).map((t) => neox.tokenToId(t));
    assert.deepEqual(neox.encode(w), expected);
  });

  test('1 MB of one unbroken word encodes in a child with 256 MiB of heap, and decodes back', () => {
    // Before: 17–30 s and about 800 MB for the package's merge. The ids of a 1 MB word have no
    // independent reference (the package's merge is what ran out); the test above shows the two
    // merges agree on 20,000-character words, and this one that the text survives the round trip.
    const out = isolated(
      `import { AutoTokenizer } from ${JSON.stringify(TOKENIZER_JS)};
       const tok = await AutoTokenizer.fromPretrained(${JSON.stringify(resolve(SHARED, 'data/tokenizers/gpt-neox-20b'))});
       for (const unit of ['a', '漢字']) {
         const word = unit.repeat(Math.ceil(1e6 / unit.length));
         const ids = tok.encode(word);
         console.log(unit, ids.length, tok.decode(ids) === word);
       }`,
      256,
      120_000,
    );
    const lines = out.trim().split('\n').map((l) => l.split(' '));
    assert.equal(lines.length, 2, out);
    for (const [unit, n, same] of lines) {
      assert.equal(same, 'true', `${unit}: decode(encode(word)) is the word`);
      assert.ok(Number(n) > 1000 && Number(n) <= 3e6, `${unit}: ${n} ids`);
    }
  });
});

describe('Unigram and WordPiece words take linear paths, with the package’s result', () => {
  // Scores that are small integers make ties common, so the tie-breaking is exercised too.
  const letters = [...'abcde'];
  const pieces = new Set<string>(['<unk>', ...letters]);
  for (const w of words(letters, 300, 4, 11)) pieces.add(w);
  pieces.delete('e'); // 'e' has no piece of its own: unknown unless inside a longer piece
  const unigramVocab = [...pieces].map((p, i) => [p, -1 - (i % 3) - (p.length > 1 ? 1 : 0)] as [string, number]);
  const unigramJson = { model: { type: 'Unigram', unk_id: 0, vocab: unigramVocab } };
  const wpTokens = ['[UNK]', ...letters, ...[...pieces].filter((p) => p !== '<unk>').map((p, i) => (i % 2 ? `##${p}` : p))];
  const wordPieceJson = { model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 5000, vocab: Object.fromEntries([...new Set(wpTokens)].map((t, i) => [t, i])) } };

  test('UnigramSegmenter equals the package’s tokenize, ties and unknown characters included', () => {
    const pkg = packageModel(unigramJson);
    const segmenter = new UnigramSegmenter(unigramVocab.map(([p]) => p));
    const model = pkg as unknown as ConstructorParameters<typeof WordPieceSplitter>[0] & Parameters<UnigramSegmenter['segment']>[1];
    for (const w of [...words([...letters, 'x', 'é', '🐍'], 300, 400, 5), '', 'a', 'e', 'eeee']) assert.deepEqual(segmenter.segment(w, model), pkg.tokenize(w), w);
  });

  test('WordPieceSplitter equals the package’s encode, unknown words and the length limit included', () => {
    const pkg = packageModel(wordPieceJson);
    const splitter = new WordPieceSplitter(pkg as unknown as ConstructorParameters<typeof WordPieceSplitter>[0]);
    const ws = [...words([...letters, 'x'], 300, 60, 9), '', 'a', '##a', 'e'.repeat(5001)];
    assert.deepEqual(splitter.encode(ws), pkg.encode(ws));
  });

  test('1 MB of one word: Unigram and WordPiece encode in a child with 256 MiB of heap', () => {
    // Before: Unigram threw "Maximum call stack size exceeded" (push(...pieces)) after about a
    // minute; WordPiece with a high max_input_chars_per_word was cubic in the word's length.
    const out = isolated(
      `import { PreTrainedTokenizer } from ${JSON.stringify(TOKENIZER_JS)};
       const word = 'abcde'.repeat(2e5);
       const uni = PreTrainedTokenizer.fromJSON(${JSON.stringify(unigramJson)});
       const wp = PreTrainedTokenizer.fromJSON(${JSON.stringify({ model: { ...wordPieceJson.model, max_input_chars_per_word: 2e6 } })});
       console.log(uni.encode(word).length, wp.encode(word).length);`,
      256,
      120_000,
    );
    const [uni, wp] = out.trim().split(' ').map(Number);
    assert.ok(uni! >= 2e5 && uni! <= 1e6, `Unigram: ${uni} ids`);
    assert.ok(wp! >= 2e5 && wp! <= 1e6, `WordPiece: ${wp} ids`);
  });
});

describe('a character-level tokenizer on a 10 MB word', () => {
  test('through tokenizer.json (what a character model’s checkpoint ships), in a child with 512 MiB of heap', () => {
    // Before: out of memory (the package built an object and a JSON string per character).
    const out = isolated(
      `import { PreTrainedTokenizer } from ${JSON.stringify(TOKENIZER_JS)};
       import { CharCorpus } from ${JSON.stringify(CHAR_DATA_JS)};
       const tok = PreTrainedTokenizer.fromJSON(new CharCorpus('abcdefghij').tokenizerJson());
       const ids = tok.encode('abcdefghij'.repeat(1e6));
       let ok = ids.length === 1e7;
       for (let i = 0; i < ids.length && ok; i++) ok = ids[i] === i % 10;
       console.log(ok);`,
      512,
      120_000,
    );
    assert.equal(out.trim(), 'true');
  });
  test('CharCorpus reads, encodes and decodes it in a child with 96 MiB of heap', () => {
    // Before: Int32Array.from(text, …) gathered every character first, out of memory here.
    const out = isolated(
      `import { CharCorpus } from ${JSON.stringify(CHAR_DATA_JS)};
       const text = 'abcdefghij'.repeat(1e6);
       const c = new CharCorpus(text);
       let ok = c.ids.length === 1e7 && c.vocabSize === 10 && c.ids[12345] === 5;
       const some = text.slice(0, 1e6);
       ok = ok && c.decode(c.encode(some)) === some;
       console.log(ok);`,
      96,
      60_000,
    );
    assert.equal(out.trim(), 'true');
  });
  test('CharCorpus: astral characters count once; decode refuses ids outside the vocabulary', () => {
    const c = new CharCorpus('a🐍b🐍');
    assert.deepEqual(c.chars, ['a', 'b', '🐍']);
    assert.deepEqual(Array.from(c.ids), [0, 2, 1, 2]);
    assert.deepEqual(c.encode('🐍a'), [2, 0]);
    assert.equal(c.decode([2, 0, 1]), '🐍ab');
    assert.throws(() => c.decode([3]), /decode: token id 3 is outside the vocabulary \[0, 3\)/);
    assert.throws(() => c.decode([0.5]), /token id 0\.5 is outside/);
    assert.throws(() => c.encode('x'), /character "x" is not in the corpus vocabulary/);
  });
});

describe('files that are not what they claim to be', () => {
  test('a tokenizer.json linked to a file of other text: the error names it and quotes nothing', async () => {
    const secret = join(tmp, 'passwd');
    writeFileSync(secret, 'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n');
    const d = mkdtempSync(join(tmp, 'linked-'));
    symlinkSync(secret, join(d, 'tokenizer.json'));
    await assert.rejects(AutoTokenizer.fromPretrained(d), (e: unknown) => {
      assert.ok(e instanceof FormatError);
      assert.match(e.message, /tokenizer\.json: not valid JSON/);
      assert.doesNotMatch(e.message, /root|daemon|bin/);
      return true;
    });
  });
  test('an error of the package is a FormatError naming the file, cut short', () => {
    const long = 'NoSuchPreTokenizer'.repeat(1000);
    assert.throws(
      () => PreTrainedTokenizer.fromJSON(bpe({}, { pre_tokenizer: { type: long } })),
      (e: unknown) => e instanceof FormatError && /^tokenizer\.json: cannot build a tokenizer from it: .*NoSuchPreTokenizer.*…$/.test(e.message) && e.message.length < 200,
    );
  });
  test('the GPT-NeoX tokenizer passes every check', () => {
    const t = PreTrainedTokenizer.fromJSON(neoxJson);
    assert.equal(t.vocabSize, 50277);
  });
});

describe('GGUF export of a tokenizer.json makes the same checks', () => {
  const byteLevel = (model: Record<string, unknown>, top: Record<string, unknown> = {}) => bpe(model, { pre_tokenizer: { type: 'ByteLevel' }, ...top });
  test('a duplicate id, a non-integer id or a malformed merge is refused instead of overwriting a token', () => {
    const gguf = (json: unknown, re: RegExp) =>
      assert.throws(() => byteLevelBpeGgufMetadata(json, 8), (e: unknown) => e instanceof FormatError && e.message.startsWith('tokenizer.json: ') && re.test(e.message));
    gguf(byteLevel({ vocab: { a: 0, b: 0, ab: 2 } }), /model\.vocab: id 0 of token "b" is already the id of "a"/);
    gguf(byteLevel({}, { added_tokens: [{ id: 1, content: '<|endoftext|>', special: true }] }), /added_tokens\[0\]: id 1 of token "<\|endoftext\|>" is already the id of "b"/);
    gguf(byteLevel({ vocab: { a: 0, b: '1', ab: 2 } }), /token "b" has id the string "1"/);
    gguf(byteLevel({ merges: ['a b c'] }), /model\.merges\[0\] must be a "left right" string/);
    const ok = byteLevelBpeGgufMetadata(byteLevel({}), 8);
    assert.deepEqual((ok['tokenizer.ggml.tokens']!.value as string[]).slice(0, 4), ['a', 'b', 'ab', '[PAD3]']);
  });
});
