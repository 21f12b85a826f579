import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { ArgumentError, FormatError } from '../src/errors.js';
import { AutoTokenizer } from '../src/io/tokenizer.js';
import { SHARED, fixture } from './helpers.js';

const dir = resolve(SHARED, 'data/tokenizers/gpt-neox-20b');
const cases = JSON.parse(readFileSync(fixture('tokenizer', 'gpt-neox-20b-cases.json'), 'utf8')) as {
  text: string;
  ids: number[];
  tokens: string[];
  decoded: string;
}[];
const tmp = mkdtempSync(join(tmpdir(), 'mamba-ts-tok-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('GPT-NeoX tokenizer equals the Rust tokenizers library', async () => {
  const tok = await AutoTokenizer.fromPretrained(dir);
  test('special ids', () => {
    assert.equal(tok.eosTokenId, 0);
    assert.equal(tok.vocabSize, 50277);
  });
  for (const c of cases) {
    test(`${JSON.stringify(c.text).slice(0, 40)}: ids, tokens, decoded`, () => {
      assert.deepEqual(tok.encode(c.text), c.ids);
      assert.deepEqual(tok.tokenize(c.text), c.tokens);
      assert.equal(tok.decode(c.ids), c.decoded);
    });
  }
  test('decode rejects ids outside the vocabulary', () => {
    assert.throws(() => tok.decode([1, 50277]), (e: Error) => e instanceof ArgumentError && /token id 50277 is outside the vocabulary \[0, 50277\)/.test(e.message));
    assert.throws(() => tok.decode([-1]), /token id -1/);
  });
});

describe('bad tokenizer folders', () => {
  const folder = (content: string | null) => {
    const d = mkdtempSync(join(tmp, 't-'));
    if (content !== null) writeFileSync(join(d, 'tokenizer.json'), content);
    return d;
  };
  test('missing tokenizer.json', async () => {
    await assert.rejects(AutoTokenizer.fromPretrained(folder(null)), (e: Error) => e instanceof FormatError && /tokenizer\.json: missing/.test(e.message));
  });
  test('tokenizer.json that is not JSON', async () => {
    await assert.rejects(AutoTokenizer.fromPretrained(folder('{"model": ')), /tokenizer\.json: not valid JSON/);
  });
  test('tokenizer.json without a model', async () => {
    await assert.rejects(AutoTokenizer.fromPretrained(folder('{}')), /tokenizer\.json: no "model" with a "vocab"/);
    await assert.rejects(AutoTokenizer.fromPretrained(folder('[1, 2]')), /tokenizer\.json: expected a JSON object/);
  });
});
