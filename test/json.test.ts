import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FormatError } from '../src/errors.js';
import { jsonDepth, MAX_JSON_DEPTH, parseJson, parseJsonObject } from '../src/io/json.js';

test('parseJson: a syntax error names the file and does not quote its contents', () => {
  for (const text of ['root:x:0:0:root:/root:/bin/bash', '{"a": secret-value}', '[1,]', '{"a":']) {
    assert.throws(
      () => parseJson(text, '/m/tokenizer.json'),
      (e: unknown) => e instanceof FormatError && e.message.startsWith('/m/tokenizer.json: not valid JSON') && !/root:x|secret/.test(e.message),
    );
  }
});

test('parseJson: nesting 10,000 deep is a FormatError naming the file, not a stack overflow', () => {
  const deep = '['.repeat(10_000) + ']'.repeat(10_000);
  assert.throws(() => parseJson(deep, 'config.json'), /config\.json: .*nested more than 512 levels/);
  assert.equal(jsonDepth('{"a":[{"b":"[[[[["}]}'), 3, 'brackets inside strings do not count');
  assert.deepEqual(parseJson('['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH), 'x.json') instanceof Array, true);
});

test('parseJson: a byte-order mark is refused with a message that says so', () => {
  assert.throws(() => parseJson('\ufeff{}', 'config.json'), /config\.json: .*byte-order mark/);
});

test('parseJsonObject: arrays, null and scalars are refused by kind', () => {
  assert.throws(() => parseJsonObject('[1]', 'c.json'), /c\.json: expected a JSON object, got an array/);
  assert.throws(() => parseJsonObject('null', 'c.json'), /got null/);
  assert.deepEqual(parseJsonObject('{"a":1}', 'c.json'), { a: 1 });
});
