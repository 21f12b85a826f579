/** The IDX (MNIST) reader, its errors on malformed files, and the 8,000 / 2,000 split. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { FormatError } from '../src/errors.js';
import { loadIdxImageSet, loadMnistTest, strideSplit } from '../src/train/image-data.js';
import { SHARED } from './helpers.js';

const MNIST = resolve(SHARED, 'data/mnist');
const dir = mkdtempSync(join(tmpdir(), 'idx-'));

function idx(magic: number, dims: number[], body: number[]): Uint8Array {
  const head = new DataView(new ArrayBuffer(4 * (1 + dims.length)));
  head.setUint32(0, magic, false);
  dims.forEach((d, i) => head.setUint32(4 * (i + 1), d, false));
  return new Uint8Array([...new Uint8Array(head.buffer), ...body]);
}
function file(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

test('the MNIST test files load as 10,000 28×28 images with labels 0-9', async () => {
  const set = await loadMnistTest(MNIST);
  assert.equal(set.count, 10000);
  assert.deepEqual([set.height, set.width, set.channels], [28, 28, 1]);
  assert.equal(set.images.length, 10000 * 784);
  assert.ok(set.images.every((v) => v >= 0 && v <= 1));
  const counts = new Array<number>(10).fill(0);
  for (const l of set.labels) counts[l]!++;
  assert.ok(counts.every((c) => c > 800), `class counts ${counts}`);
  // The first test digit of MNIST is a 7, the second a 2.
  assert.deepEqual([set.labels[0], set.labels[1]], [7, 2]);

  const { train, test: held } = strideSplit(set, 8000, 2000);
  assert.equal(train.count, 8000);
  assert.equal(held.count, 2000);
  // Test image k is file image 5k + 4; train images are the others in order.
  assert.deepEqual(held.images.subarray(784, 1568), set.images.subarray(9 * 784, 10 * 784));
  assert.equal(held.labels[1], set.labels[9]);
  assert.deepEqual(train.images.subarray(4 * 784, 5 * 784), set.images.subarray(5 * 784, 6 * 784));
  assert.throws(() => strideSplit(set, 8001, 2000), /asked for 8001 train/);
});

test('small IDX files, plain and gzip, load exactly', async () => {
  const pixels = [0, 255, 51, 102, 0, 0, 255, 255];
  const imgs = file('i.idx', gzipSync(idx(0x803, [2, 2, 2], pixels)));
  const labs = file('l.idx', idx(0x801, [2], [3, 9]));
  const set = await loadIdxImageSet(imgs, labs);
  assert.deepEqual([...set.images], pixels.map((p) => Math.fround(p / 255)));
  assert.deepEqual([...set.labels], [3, 9]);
});

test('malformed IDX files are refused, naming the file and the problem', async () => {
  const labs = file('ok-labels.idx', idx(0x801, [2], [1, 2]));
  const imgs = file('ok-images.idx', idx(0x803, [2, 1, 1], [1, 2]));
  const refuses = async (images: string, labels: string, pattern: RegExp, classes?: number) =>
    assert.rejects(loadIdxImageSet(images, labels, classes), (e: Error) => e instanceof FormatError && pattern.test(e.message), pattern.source);
  await refuses(file('magic.idx', idx(0x801, [2, 1, 1], [1, 2])), labs, /magic\.idx: not an IDX images file: magic number 0x00000801, expected 0x00000803/);
  await refuses(file('short.idx', idx(0x803, [3, 1, 1], [1, 2])), labs, /short\.idx: 3 images of 1×1 need 19 bytes, the file has 18/);
  await refuses(file('tiny.idx', new Uint8Array([0, 0, 8])), labs, /tiny\.idx: too short for an IDX images header/);
  await refuses(imgs, file('count.idx', idx(0x801, [3], [1, 2, 3])), /count\.idx: 3 labels for the 2 images/);
  await refuses(imgs, file('range.idx', idx(0x801, [2], [1, 12])), /range\.idx: label 12 at index 1 is not below the 10 classes/);
  await refuses(file('badgz.idx', new Uint8Array([0x1f, 0x8b, 1, 2, 3])), labs, /badgz\.idx: not a valid gzip file/);
  await assert.rejects(loadIdxImageSet(join(dir, 'absent.idx'), labs), /absent\.idx: no such file/);
});
