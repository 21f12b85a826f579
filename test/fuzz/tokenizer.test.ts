/**
 * Fuzzing tokenizer.json (issue 14): vocab ids that are huge, negative, fractional or not numbers,
 * a vocab given as an array, random merges, pre-tokenizer and normalizer regexes (catastrophic
 * ones among them), odd added tokens and model types, then encoding texts that include long words.
 * Loading must end in an Error naming the file, or in a tokenizer whose ids are integers inside its
 * vocabulary, which keeps text made of its own tokens (no silent `[]`), and which answers in time.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FuzzRunner } from './runner.js';
import { assertLoaded, assertThrew, clip, fuzzProperty, settled, type Draw } from './property.js';
import { CANARY, applyEdits, corruptText, describeEdit, lastPerPath, textCorruptionArb, type JsonEdit, type JsonPath } from './gen-json.js';
import type { FileSpec } from './protocol.js';

const CHARS = [...'abcdefghijklmnopqrstuvwxyz .,!'];
const MERGES = ['a n', 'an a', 'b an', 't h', 'th e', 'e r', 'a a', 'aa aa'];

/** A small BPE tokenizer.json: one token per character, a few merges, and <|endoftext|>. */
function baseTokenizer(): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  for (const c of CHARS) vocab[c] = Object.keys(vocab).length;
  for (const m of MERGES) vocab[m.replace(' ', '')] = Object.keys(vocab).length;
  const eos = Object.keys(vocab).length;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{ id: eos, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: { type: 'Fuse' },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: MERGES },
  };
}

const BASE = baseTokenizer();
const VOCAB_SIZE = Object.keys((BASE['model'] as { vocab: object }).vocab).length + 1;

const REGEXES = ['(a+)+$', '(a|aa)+$', '(a|a?)+$', '([a-z]+)*!', '\\s+', ' ?\\p{L}+', '.*', '', 'a*', '(', '[', '\\', '(?<=a)b', '(?i)a', '\\p{Zzz}', 'a{1,100000}', "'s|'t| ?\\p{L}+| ?\\p{N}+"];
const regexArb = fc.oneof(fc.constantFrom(...REGEXES), fc.string({ unit: fc.constantFrom(...'()[]*+?|\\ab.^${}'), maxLength: 10 }));
const jsonText = (v: unknown): string => JSON.stringify(v);

const preTokenizerArb: fc.Arbitrary<string> = fc.oneof(
  fc.record({ pattern: regexArb, behavior: fc.constantFrom('Isolated', 'Removed', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous', 'Bogus'), invert: fc.boolean() }).map(
    ({ pattern, behavior, invert }) => jsonText({ type: 'Split', pattern: { Regex: pattern }, behavior, invert }),
  ),
  fc.constantFrom(
    '{"type":"Whitespace"}',
    '{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true}',
    '{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true}',
    '{"type":"Bogus"}',
    '{"type":"Sequence","pretokenizers":[{"type":"Whitespace"},{"type":"Split","pattern":{"Regex":"(a+)+$"},"behavior":"Isolated","invert":false}]}',
    'null',
    '1',
    '"Whitespace"',
  ),
);

const normalizerArb: fc.Arbitrary<string> = fc.oneof(
  regexArb.map((r) => jsonText({ type: 'Replace', pattern: { Regex: r }, content: '' })),
  fc.constantFrom('{"type":"Lowercase"}', '{"type":"NFC"}', '{"type":"Bogus"}', '[]', '"NFC"'),
);

const idTextArb = fc.constantFrom('1000000000', '2147483647', '1e15', '-1', '1.5', '"x"', 'null', 'true', '[]', '{}', '0', String(VOCAB_SIZE), String(VOCAB_SIZE + 5), '9007199254740993');

const mergeItemArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.tuple(fc.constantFrom(...CHARS, 'an', 'th', 'zz'), fc.constantFrom(...CHARS, 'a', 'e', 'qq')).map(([a, b]) => `${a} ${b}`),
  fc.tuple(fc.constantFrom(...CHARS), fc.constantFrom(...CHARS)).map(([a, b]) => [a, b]),
  fc.string({ maxLength: 6 }),
  fc.constantFrom(1, null, ['a'], ['a', 'b', 'c'], 'a  b', ''),
);

/** Edits that keep every base token in the vocabulary (so text made of them must not vanish). */
const keepsTokensEditArb: fc.Arbitrary<JsonEdit> = fc.oneof(
  fc.record({ path: fc.constantFrom(...CHARS, 'an', 'the').map((t): JsonPath => ['model', 'vocab', t]), valueText: idTextArb }),
  fc.record({ path: fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty').map((t): JsonPath => ['model', 'vocab', t]), valueText: fc.oneof(fc.constant(String(VOCAB_SIZE)), idTextArb) }),
  fc.record({
    path: fc.constant<JsonPath>(['model', 'vocab']),
    valueText: fc.constantFrom(
      jsonText(Object.entries((BASE['model'] as { vocab: object }).vocab)),
      jsonText(Object.keys((BASE['model'] as { vocab: object }).vocab)),
      '"abc"',
      '1',
    ),
  }),
  fc.record({ path: fc.constantFrom<JsonPath>(['added_tokens', 0, 'id'], ['added_tokens', 0, 'content']), valueText: idTextArb }),
);

/** Edits that may legitimately change or drop what text encodes to. */
const otherEditArb: fc.Arbitrary<JsonEdit> = fc.oneof(
  fc.record({ path: fc.constant<JsonPath>(['pre_tokenizer']), valueText: preTokenizerArb }),
  fc.record({ path: fc.constant<JsonPath>(['normalizer']), valueText: normalizerArb }),
  fc.record({ path: fc.constant<JsonPath>(['model', 'merges']), valueText: fc.array(mergeItemArb, { maxLength: 8 }).map(jsonText) }),
  fc.record({ path: fc.constant<JsonPath>(['model', 'merges']), valueText: fc.constantFrom('null', '"a n"', '{}', '[]') }),
  fc.record({ path: fc.constant<JsonPath>(['model', 'type']), valueText: fc.constantFrom('"WordLevel"', '"Unigram"', '"WordPiece"', '"__proto__"', '"bpe"', '1', 'null') }),
  fc.record({ path: fc.constant<JsonPath>(['model', 'vocab']), valueText: fc.constantFrom('{}', 'null', '[]') }),
  fc.record({ path: fc.constant<JsonPath>(['added_tokens']), valueText: fc.constantFrom('null', '{}', '[1]', '[{"id":1.5,"content":"x","special":true}]', '[{"id":1e9,"content":"<|huge-id|>","special":true}]') }),
  fc.record({ path: fc.constant<JsonPath>(['decoder']), valueText: fc.constantFrom('{"type":"Bogus"}', '{"type":"ByteLevel"}', 'null', '1') }),
);

/** tokenizer_config.json contents: which token is EOS / PAD. */
const tokenizerConfigArb = fc.option(
  fc.record({
    key: fc.constantFrom('eos_token', 'pad_token', 'bos_token'),
    value: fc.constantFrom<unknown>('<|endoftext|>', 'a', 'not-a-token', 1.5, 1e9, null, { content: 'b' }, { content: 7 }, ['a'], '__proto__'),
  }),
  { nil: undefined },
);

const textArb: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: fc.constantFrom(...CHARS), minLength: 1, maxLength: 40 }),
  fc.integer({ min: 5, max: 28 }).map((k) => `${'a'.repeat(k)}!`),
  fc.integer({ min: 1, max: 50_000 }).map((k) => 'ab'.repeat(k)),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
);

interface TokExpect {
  corrupt: boolean;
  /** Whether every base token is still in the vocabulary and nothing may drop text. */
  keepsText: boolean;
  texts: string[];
}

const caseArb: fc.Arbitrary<Draw<TokExpect>> = fc
  .record({
    keep: fc.array(keepsTokensEditArb, { maxLength: 2 }),
    other: fc.array(otherEditArb, { maxLength: 2 }),
    config: tokenizerConfigArb,
    corruption: fc.oneof({ weight: 8, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: textCorruptionArb }),
    texts: fc.array(textArb, { minLength: 1, maxLength: 3 }),
  })
  .map(({ keep, other, config, corruption, texts }): Draw<TokExpect> => {
    const edits = lastPerPath([...keep, ...other]);
    const text = applyEdits(BASE, edits);
    const corrupted = corruption && corruptText(text, corruption);
    const files: FileSpec[] = [
      corrupted
        ? typeof corrupted.text === 'string'
          ? { path: 'model/tokenizer.json', text: corrupted.text }
          : { path: 'model/tokenizer.json', bytes: corrupted.text }
        : { path: 'model/tokenizer.json', text },
    ];
    if (config) files.push({ path: 'model/tokenizer_config.json', text: JSON.stringify({ [config.key]: config.value }) });
    const what = corrupted ? corrupted.label : edits.length ? edits.map(describeEdit).join('; ') : 'unchanged';
    const cfg = config ? `; tokenizer_config ${config.key} = ${JSON.stringify(config.value)}` : '';
    const shown = texts.map((t) => (t.length > 30 ? `${JSON.stringify(t.slice(0, 12))}… (${t.length} chars)` : JSON.stringify(t))).join(', ');
    return {
      fuzzCase: { label: `tokenizer.json: ${what}${cfg}; encode ${shown}`, files, target: { kind: 'tokenizer', texts } },
      expect: { corrupt: corrupted !== undefined, keepsText: other.length === 0, texts },
    };
  });

let runner: FuzzRunner;
before(async () => {
  runner = await FuzzRunner.create();
});
after(async () => {
  await runner.close();
});

const isBaseText = (t: string): boolean => t.length > 0 && [...t].every((c) => CHARS.includes(c));

describe('fuzz: tokenizer.json', () => {
  test('a small BPE tokenizer with hostile edits, encoding hostile texts', async (t) => {
    await fuzzProperty(
      'tokenizer',
      runner,
      caseArb,
      ({ expect: e }, outcome) => {
        const o = settled(outcome);
        // The canary sits in raw text a parser cannot make sense of (textCorruptionArb): such text is
        // never quoted. A token's own content in a well-formed file may be named, cut and escaped.
        if (o.kind === 'threw') assert.ok(!o.message.includes(CANARY), `the error quotes the file: ${clip(o.message, 300)}`);
        if (e.corrupt) return assertThrew(o, 'tokenizer.json is not a JSON object');
        if (o.kind === 'threw') return;
        assertLoaded(o, '');
        if (o.value.kind !== 'tokenizer') return assert.fail('not a tokenizer result');
        const { vocabSize, special, encodings, decoded } = o.value;
        assert.ok(Number.isSafeInteger(vocabSize) && vocabSize > 0, `vocabSize ${vocabSize}`);
        for (const id of special) {
          assert.ok(id === undefined || (Number.isInteger(id) && id >= 0 && id < vocabSize), `a special token id ${JSON.stringify(id)} outside [0, ${vocabSize})`);
        }
        encodings.forEach((ids, i) => {
          const bad = ids.find((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize);
          assert.equal(bad, undefined, `encode gave ${JSON.stringify(bad)}, not a token id in [0, ${vocabSize})`);
          const d = decoded[i]!;
          assert.ok('text' in d, `decode of encode's own ids failed: ${'error' in d ? d.error : ''}`);
          if (e.keepsText && isBaseText(e.texts[i]!)) {
            assert.ok(ids.length > 0, `encode(${JSON.stringify(e.texts[i]!.slice(0, 20))}) gave [], though every character is a token of the vocabulary`);
          }
        });
      },
      { runs: 150, log: (l) => t.diagnostic(l) },
    );
  });
});
