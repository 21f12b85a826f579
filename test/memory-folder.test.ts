/**
 * folderFromFiles: a model and tokenizer held in memory (File objects, as a browser's file picker
 * gives them, or ArrayBuffers) load through the same loaders as a folder on disk, with the same
 * numbers; bad input and writing are refused with the reason.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { ArgumentError, FormatError, UnsupportedError } from '../src/errors.js';
import { folderFromFiles } from '../src/io/memory-folder.js';
import { exists, readText, writeBytesAtomic } from '../src/io/platform.js';
import { AutoTokenizer } from '../src/io/tokenizer.js';
import { AutoModelForCausalLM } from '../src/models/auto.js';
import { REPO } from './consumer.js';
import { fixture } from './helpers.js';

const TINY = fixture('hf', 'mamba-tiny', 'model');
const SHAKESPEARE = resolve(REPO, 'models/mamba-shakespeare');

async function logits(path: string): Promise<Float32Array> {
  const model = await AutoModelForCausalLM.fromPretrained(path);
  const out = await model.forward([[1, 2, 3, 4, 5]], {});
  const data = (await out.logits.data()) as Float32Array;
  out.logits.dispose();
  model.dispose();
  return data;
}

async function filesOf(dir: string): Promise<File[]> {
  const names = await readdir(dir);
  return Promise.all(names.map(async (n) => new File([await readFile(join(dir, n))], n)));
}

test('a model from File objects gives exactly the logits of the same folder on disk', async () => {
  const folder = folderFromFiles(await filesOf(TINY));
  try {
    assert.deepEqual([...folder.names].sort(), ['config.json', 'model.safetensors']);
    assert.deepEqual(await logits(folder.path), await logits(TINY));
  } finally {
    folder.release();
  }
});

test('a model and its tokenizer from a record of ArrayBuffers and typed arrays', async () => {
  const config = await readFile(join(SHAKESPEARE, 'config.json'));
  const weights = await readFile(join(SHAKESPEARE, 'model.safetensors'));
  const folder = folderFromFiles({
    'config.json': config, // a Buffer: a view into a larger ArrayBuffer
    'model.safetensors': weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
    'tokenizer.json': new Blob([await readFile(join(SHAKESPEARE, 'tokenizer.json'))]),
  });
  try {
    const tokenizer = await AutoTokenizer.fromPretrained(folder.path);
    const fromDisk = await AutoTokenizer.fromPretrained(SHAKESPEARE);
    assert.deepEqual(tokenizer.encode('ROMEO: O, she doth teach'), fromDisk.encode('ROMEO: O, she doth teach'));
    assert.deepEqual(await logits(folder.path), await logits(SHAKESPEARE));
  } finally {
    folder.release();
  }
});

test('a missing file is reported by the loader, naming it; a released folder says so', async () => {
  const folder = folderFromFiles([new File(['{}'], 'tokenizer_config.json')]);
  await assert.rejects(AutoModelForCausalLM.fromPretrained(folder.path), (e: Error) => e instanceof FormatError && e.message.includes(`${folder.path}/config.json`));
  await assert.rejects(AutoTokenizer.fromPretrained(folder.path), /tokenizer\.json: missing/);
  assert.equal(await exists(`${folder.path}/tokenizer_config.json`), true);
  folder.release();
  assert.equal(await exists(`${folder.path}/tokenizer_config.json`), false);
  await assert.rejects(readText(`${folder.path}/tokenizer_config.json`), /released, or never mounted/);
});

test('bad names, duplicates and contents are refused; writing into memory or a URL is refused', async () => {
  assert.throws(() => folderFromFiles({ 'a/config.json': new ArrayBuffer(1) }), ArgumentError);
  assert.throws(() => folderFromFiles({ '': new ArrayBuffer(1) }), ArgumentError);
  assert.throws(() => folderFromFiles([new Blob(['{}'])] as unknown as File[]), /item 0 is not a File/);
  assert.throws(() => folderFromFiles([new File(['1'], 'x.json'), new File(['2'], 'x.json')]), /two files are named x\.json/);
  assert.throws(() => folderFromFiles({ 'config.json': '{}' as unknown as ArrayBuffer }), /config\.json: expected a File, Blob, ArrayBuffer or typed array/);
  const folder = folderFromFiles({ 'config.json': new Uint8Array(2) });
  try {
    await assert.rejects(writeBytesAtomic(`${folder.path}/config.json`, '{}'), UnsupportedError);
    await assert.rejects(writeBytesAtomic('https://example.invalid/model/config.json', '{}'), UnsupportedError);
    const model = await AutoModelForCausalLM.fromPretrained(TINY);
    await assert.rejects(model.save(folder.path), UnsupportedError);
    model.dispose();
  } finally {
    folder.release();
  }
});
