import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { ArgumentError, FormatError } from '../src/errors.js';
import { TextStreamer } from '../src/generation/streamer.js';
import { AutoTokenizer, PreTrainedTokenizer } from '../src/io/tokenizer.js';
import { SHARED, fixture } from './helpers.js';

const dir = resolve(SHARED, 'data/tokenizers/gpt-neox-20b');
const neoxJson = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as unknown;
const cases = JSON.parse(readFileSync(fixture('tokenizer', 'gpt-neox-20b-cases.json'), 'utf8')) as {
  text: string;
  ids: number[];
  tokens: string[];
  decoded: string;
}[];
const tok = await AutoTokenizer.fromPretrained(dir);

const tmp = mkdtempSync(join(tmpdir(), 'mamba-ts-tok-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A fresh folder holding the given files. */
function folder(files: Record<string, string>): string {
  const d = mkdtempSync(join(tmp, 't-'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(d, name), content);
  return d;
}

/** A tiny BPE without byte fallback or unk_token, so some characters have no token at all. */
const tinyBpe = {
  model: { type: 'BPE', vocab: { a: 0, b: 1, ab: 2, '</s>': 3 }, merges: ['a b'], unk_token: null },
  added_tokens: [{ id: 3, content: '</s>', special: true }],
};

describe('GPT-NeoX-20B tokenizer equals the Rust tokenizers library', () => {
  test('fixture has the expected cases', () => assert.equal(cases.length, 13));
  for (const c of cases) {
    test(`${JSON.stringify(c.text).slice(0, 40)}: ids, tokens, decoded`, () => {
      assert.deepEqual(tok.encode(c.text), c.ids, 'ids');
      assert.deepEqual(tok.tokenize(c.text), c.tokens, 'tokens');
      assert.equal(tok.decode(c.ids), c.decoded, 'decoded');
      // The GPT-NeoX post-processor (ByteLevel) adds no BOS/EOS: special tokens change nothing.
      assert.deepEqual(tok.encode(c.text, { addSpecialTokens: false }), c.ids, 'ids without special tokens');
    });
  }
  test('special ids and vocabulary size', () => {
    assert.equal(tok.eosTokenId, 0);
    assert.equal(tok.bosTokenId, 0);
    assert.equal(tok.padTokenId, 1); // <|padding|>
    assert.equal(tok.vocabSize, 50277);
    assert.equal(tok.tokenToId('<|endoftext|>'), 0);
    assert.equal(tok.idToToken(0), '<|endoftext|>');
    assert.equal(tok.idToToken(50277), undefined);
    assert.equal(tok.tokenToId('no such token'), undefined);
  });
  test('decode does not "clean up" spaces before punctuation (the Rust library does not)', () => {
    // @huggingface/tokenizers turns " ," into "," unless told otherwise.
    const text = "Hello , world ! it 's n't . ?";
    assert.equal(tok.decode(tok.encode(text)), text);
  });
  test('clean_up_tokenization_spaces: true in tokenizer_config.json is honoured', () => {
    const t = PreTrainedTokenizer.fromJSON(neoxJson, { clean_up_tokenization_spaces: true });
    assert.equal(t.decode(t.encode('Hello , world !')), 'Hello, world!');
  });
  test('skipSpecialTokens drops <|endoftext|>', () => {
    const ids = tok.encode('<|endoftext|>hi<|endoftext|>');
    assert.deepEqual(ids.filter((i) => i === 0).length, 2);
    assert.equal(tok.decode(ids, { skipSpecialTokens: true }), 'hi');
    assert.equal(tok.decode([]), '');
  });
  test('decode rejects ids outside the vocabulary, naming the id and the size', () => {
    const outside = (id: number) => (e: unknown) =>
      e instanceof ArgumentError && e.message.includes(`token id ${id} is outside the vocabulary [0, 50277)`);
    assert.throws(() => tok.decode([1, 50277]), outside(50277));
    assert.throws(() => tok.decode([-1]), outside(-1));
    assert.throws(() => tok.decode([2.5]), outside(2.5));
  });
  test('streaming the tokens one at a time gives the decoded text, with whole characters', () => {
    const text = 'Mamba는 선택적 🐍🚀 naïve\nnext line';
    const ids = tok.encode(text);
    const chunks: string[] = [];
    const s = new TextStreamer(tok, { onText: (t) => chunks.push(t) });
    for (const id of ids) s.put([id]);
    s.end();
    assert.equal(chunks.join(''), text);
    assert.ok(chunks.length > 5, 'streamed in pieces');
    for (const c of chunks) assert.ok(!c.includes('\uFFFD'), `chunk ${JSON.stringify(c)} has a broken character`);
  });
});

describe('special tokens from tokenizer_config.json', () => {
  test('strings, {content} objects and explicit null', () => {
    const t = PreTrainedTokenizer.fromJSON(neoxJson, {
      eos_token: { content: '<|padding|>', lstrip: false },
      bos_token: '<|endoftext|>',
      pad_token: null,
    });
    assert.equal(t.eosTokenId, 1);
    assert.equal(t.bosTokenId, 0);
    assert.equal(t.padTokenId, undefined);
  });
  test('AutoTokenizer reads tokenizer_config.json when present', async () => {
    const d = folder({ 'tokenizer.json': JSON.stringify(tinyBpe), 'tokenizer_config.json': JSON.stringify({ eos_token: '</s>' }) });
    const t = await AutoTokenizer.fromPretrained(d);
    assert.equal(t.eosTokenId, 3);
    assert.equal(t.bosTokenId, undefined);
    assert.deepEqual(t.encode('abab</s>'), [2, 2, 3]);
  });
  test('without a config, special ids come from the added tokens', () => {
    const t = PreTrainedTokenizer.fromJSON(tinyBpe);
    assert.equal(t.eosTokenId, 3); // </s>
    assert.equal(t.vocabSize, 4);
  });
  test('a character the vocabulary cannot encode is dropped (as the Rust BPE), never an undefined id', () => {
    const t = PreTrainedTokenizer.fromJSON(tinyBpe);
    const ids = t.encode('abc');
    assert.deepEqual(ids, [2]);
    assert.deepEqual(t.tokenize('abc'), ['ab']);
  });
});

describe('bad tokenizer folders', () => {
  const rejects = (d: string, re: RegExp) =>
    assert.rejects(AutoTokenizer.fromPretrained(d), (e: unknown) => e instanceof FormatError && re.test(e.message));
  test('missing tokenizer.json', async () => {
    const d = folder({});
    await rejects(d, new RegExp(`${join(d, 'tokenizer.json').replace(/[.\\/]/g, '\\$&')}: missing`));
  });
  test('tokenizer.json that is not JSON names the file and where it went wrong', async () => {
    const d = folder({ 'tokenizer.json': '{"model": ' });
    await rejects(d, /tokenizer\.json: not valid JSON \(it ends too early\)/);
  });
  test('JSON that is not a tokenizer', async () => {
    await rejects(folder({ 'tokenizer.json': '{}' }), /tokenizer\.json: no "model" with a "vocab"/);
    await rejects(folder({ 'tokenizer.json': '[1, 2]' }), /tokenizer\.json: expected a JSON object/);
    await rejects(folder({ 'tokenizer.json': '{"model": {"type": "BPE"}}' }), /tokenizer\.json: no "model" with a "vocab"/);
    await rejects(folder({ 'tokenizer.json': '{"model": {"type": "BPE", "vocab": {"a": 0}}}' }), /tokenizer\.json: BPE model without a "merges" list/);
    await rejects(folder({ 'tokenizer.json': '{"model": {"type": "Nope", "vocab": {"a": 0}}}' }), /tokenizer\.json: model type "Nope" is not supported/);
    await rejects(folder({ 'tokenizer.json': '{"model": {"type": "BPE", "vocab": {}, "merges": []}}' }), /tokenizer\.json: the model vocabulary is empty/);
  });
  test('what the library itself refuses is a FormatError naming the file', async () => {
    const bad = { ...tinyBpe, pre_tokenizer: { type: 'NoSuchPreTokenizer' } };
    await rejects(folder({ 'tokenizer.json': JSON.stringify(bad) }), /tokenizer\.json: cannot build a tokenizer from it: .*NoSuchPreTokenizer/);
  });
  test('a broken tokenizer_config.json names that file', async () => {
    await rejects(folder({ 'tokenizer.json': JSON.stringify(tinyBpe), 'tokenizer_config.json': '{,' }), /tokenizer_config\.json: not valid JSON/);
    await rejects(folder({ 'tokenizer.json': JSON.stringify(tinyBpe), 'tokenizer_config.json': '"x"' }), /tokenizer_config\.json: expected a JSON object/);
  });
});

describe('calling a tokenizer, and batchDecode', () => {
  test('tokenizer(text) gives one row of ids and its mask, and stays a PreTrainedTokenizer', () => {
    assert.equal(typeof tok, 'function');
    assert.ok(tok instanceof PreTrainedTokenizer);
    assert.equal(tok.vocabSize, 50277); // fields and methods live on the callable instance
    const ids = tok.encode('Hello world');
    assert.deepEqual(tok('Hello world'), { inputIds: [ids], attentionMask: [ids.map(() => 1)] });
    assert.deepEqual(tok('Hello world', { addSpecialTokens: false }).inputIds, [tok.encode('Hello world', { addSpecialTokens: false })]);
  });

  test('tokenizer(texts) keeps row lengths unless asked to pad, left by default', () => {
    const a = tok.encode('Hello world, again');
    const b = tok.encode('Hi');
    assert.deepEqual(tok(['Hello world, again', 'Hi']).inputIds, [a, b]);
    const n = a.length - b.length;
    const pad = tok.padTokenId!;
    const left = tok(['Hello world, again', 'Hi'], { padding: true });
    assert.deepEqual(left.inputIds, [a, [...new Array<number>(n).fill(pad), ...b]]);
    assert.deepEqual(left.attentionMask, [a.map(() => 1), [...new Array<number>(n).fill(0), ...b.map(() => 1)]]);
    const right = tok(['Hello world, again', 'Hi'], { padding: true, paddingSide: 'right' });
    assert.deepEqual(right.inputIds[1], [...b, ...new Array<number>(n).fill(pad)]);
    assert.deepEqual(right.attentionMask[1], [...b.map(() => 1), ...new Array<number>(n).fill(0)]);
  });

  test('bad input to a call names what was expected', () => {
    assert.throws(() => tok(42 as never), (e: unknown) => e instanceof ArgumentError && e.message === 'tokenizer: expected a string or string[], got a number');
    assert.throws(() => tok(['a', 3] as never), /tokenizer: expected a string or string\[\], got an array holding a number/);
    assert.throws(() => tok('a', { padding_side: 'left' } as never), /tokenizer: unknown option 'padding_side' — did you mean 'paddingSide'\?/);
    assert.throws(() => tok(['a', 'bb'], { padding: true, paddingSide: 'middle' as never }), /paddingSide must be 'left' or 'right', got "middle"/);
    const noPad = PreTrainedTokenizer.fromJSON({ model: { type: 'BPE', vocab: { a: 0, b: 1, ab: 2 }, merges: ['a b'] } });
    assert.throws(() => noPad(['a', 'ab a'], { padding: true }), /padding needs a pad token, and this tokenizer has neither a pad nor an EOS token/);
    assert.throws(() => tok.encode(['a'] as never), /encode: expected a string, got an array; for several texts call tokenizer\(texts\)/);
  });

  test('batchDecode decodes each row; decode and batchDecode refuse each other’s input', () => {
    const rows = [tok.encode('Hello world'), [...tok.encode('Hi'), tok.eosTokenId!]];
    assert.deepEqual(tok.batchDecode(rows), [tok.decode(rows[0]!), tok.decode(rows[1]!)]);
    assert.deepEqual(tok.batchDecode(rows, { skipSpecialTokens: true }), ['Hello world', 'Hi']);
    assert.deepEqual(tok.batchDecode([]), []);
    assert.throws(() => tok.batchDecode([1, 2] as never), /batchDecode: row 0 is a number; expected number\[\]\[\] .*use decode\(ids\)/);
    assert.throws(() => tok.decode([[1, 2]] as never), /decode: expected one sequence of ids \(number\[\]\), got a batch \(number\[\]\[\]\); use batchDecode\(ids\)/);
    assert.throws(() => tok.decode('12' as never), /decode: expected token ids \(number\[\]\), got a string/);
  });
});
