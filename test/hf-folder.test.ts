import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixture } from './helpers.js';
import { FormatError } from '../src/errors.js';
import { readConfig, readWeights, writeModelFolder } from '../src/io/hf-folder.js';
import type { WeightSource } from '../src/io/hf-folder.js';
import type { TensorToWrite } from '../src/io/safetensors.js';

const MODEL = fixture('hf', 'mamba-tiny', 'model');

let tmp: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'mamba-ts-hf-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

let counter = 0;
function freshDir(): string {
  return join(tmp, `case-${counter++}`);
}

/** Every tensor of a weight source, as raw bytes to write back. */
function tensorsOf(w: WeightSource): Record<string, TensorToWrite> {
  const out: Record<string, TensorToWrite> = {};
  for (const n of w.names()) {
    const e = w.entry(n);
    out[n] = { dtype: e.dtype, shape: e.shape, data: w.raw(n) };
  }
  return out;
}

async function rejectsFormat(p: Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof FormatError, `expected FormatError, got ${String(e)}`);
    assert.match(e.message, re);
    return true;
  });
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('reading', () => {
  test('readConfig of the mamba-tiny fixture', async () => {
    const config = await readConfig(MODEL);
    assert.equal(config['model_type'], 'mamba');
    assert.equal(config['hidden_size'], 64);
    assert.equal(config['num_hidden_layers'], 2);
  });

  test('readWeights of a single-file folder', async () => {
    const w = await readWeights(MODEL);
    assert.equal(w.names().length, 22);
    assert.ok(w.has('backbone.norm_f.weight'));
    const e = w.entry('backbone.layers.0.mixer.A_log');
    assert.equal(e.file, join(MODEL, 'model.safetensors'));
    assert.deepEqual(e.shape, [128, 16]);
    assert.equal(w.toFloat32('backbone.layers.0.mixer.A_log')[0], Math.fround(-0.046458300203084946));
    assert.equal(w.raw('backbone.layers.0.mixer.A_log').length, 8192);
    assert.throws(() => w.entry('nope'), FormatError);
  });

  test('missing config.json', async () => {
    const dir = freshDir();
    await writeModelFolder(dir, {}, {});
    await rm(join(dir, 'config.json'));
    await rejectsFormat(readConfig(dir), new RegExp(`^${escape(join(dir, 'config.json'))}: missing`));
  });

  test('config.json that is not JSON, or not an object', async () => {
    const dir = freshDir();
    await writeModelFolder(dir, {}, {});
    await writeFile(join(dir, 'config.json'), '{"a": ');
    await rejectsFormat(readConfig(dir), /config\.json: not valid JSON/);
    await writeFile(join(dir, 'config.json'), '[1]');
    await rejectsFormat(readConfig(dir), /config\.json: expected a JSON object, got an array/);
  });

  test('folder without weights names both expected files', async () => {
    const dir = freshDir();
    await writeModelFolder(dir, {}, {});
    await rm(join(dir, 'model.safetensors'));
    await rejectsFormat(
      readWeights(dir),
      new RegExp(`^${escape(dir)}: no weights: expected model\\.safetensors or model\\.safetensors\\.index\\.json`),
    );
  });

  test('a corrupt single file is reported with its path', async () => {
    const dir = freshDir();
    await writeModelFolder(dir, {}, {});
    await writeFile(join(dir, 'model.safetensors'), new Uint8Array(3));
    await rejectsFormat(readWeights(dir), new RegExp(`^${escape(join(dir, 'model.safetensors'))}: file is 3 bytes`));
  });
});

describe('writing', () => {
  test('single file round trip', async () => {
    const src = await readWeights(MODEL);
    const config = await readConfig(MODEL);
    const dir = freshDir();
    await writeModelFolder(dir, config, tensorsOf(src));
    assert.deepEqual((await readdir(dir)).sort(), ['config.json', 'model.safetensors']);
    // Same tensors, same metadata, sorted layout: the fixture comes back byte for byte.
    assert.deepEqual(await readFile(join(dir, 'model.safetensors')), await readFile(join(MODEL, 'model.safetensors')));
    const text = await readFile(join(dir, 'config.json'), 'utf8');
    assert.equal(text, `${JSON.stringify(config, null, 2)}\n`);
    assert.deepEqual(await readConfig(dir), config);
  });

  test('sharded round trip', async () => {
    const src = await readWeights(MODEL);
    const dir = freshDir();
    await writeModelFolder(dir, { model_type: 'mamba' }, tensorsOf(src), { maxShardBytes: 100_000 });
    const files = (await readdir(dir)).sort();
    const shards = files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f));
    assert.ok(shards.length >= 4, `expected several shards, got ${files.join(', ')}`);
    assert.equal(shards[0], `model-00001-of-${String(shards.length).padStart(5, '0')}.safetensors`);
    assert.ok(!files.includes('model.safetensors'));

    const index = JSON.parse(await readFile(join(dir, 'model.safetensors.index.json'), 'utf8'));
    const total = src.names().reduce((s, n) => s + src.entry(n).byteLength, 0);
    assert.equal(index.metadata.total_size, total);
    assert.deepEqual(Object.keys(index.weight_map), [...src.names()].sort());
    assert.deepEqual([...new Set(Object.values(index.weight_map))].sort(), shards);

    const back = await readWeights(dir);
    assert.deepEqual([...back.names()].sort(), [...src.names()].sort());
    for (const n of src.names()) {
      assert.deepEqual(back.entry(n).shape, src.entry(n).shape, n);
      assert.deepEqual(back.raw(n), src.raw(n), n);
      assert.equal(back.entry(n).file, join(dir, index.weight_map[n]), n);
    }
    assert.deepEqual(await readConfig(dir), { model_type: 'mamba' });
  });

  test('writing a single file over a sharded folder removes the stale index', async () => {
    const src = await readWeights(MODEL);
    const dir = freshDir();
    await writeModelFolder(dir, {}, tensorsOf(src), { maxShardBytes: 100_000 });
    const small = { x: { dtype: 'F32' as const, shape: [2], data: new Float32Array([1, 2]) } };
    await writeModelFolder(dir, {}, small);
    assert.ok(!(await readdir(dir)).includes('model.safetensors.index.json'));
    const back = await readWeights(dir);
    assert.deepEqual(back.names(), ['x']);
    assert.deepEqual(Array.from(back.toFloat32('x')), [1, 2]);
  });

  test('a missing shard is named', async () => {
    const src = await readWeights(MODEL);
    const dir = freshDir();
    await writeModelFolder(dir, {}, tensorsOf(src), { maxShardBytes: 100_000 });
    const shard = (await readdir(dir)).filter((f) => f.startsWith('model-')).sort()[1]!;
    await rm(join(dir, shard));
    await rejectsFormat(readWeights(dir), new RegExp(`^${escape(join(dir, shard))}: missing`));
  });

  test('a corrupt shard is named', async () => {
    const src = await readWeights(MODEL);
    const dir = freshDir();
    await writeModelFolder(dir, {}, tensorsOf(src), { maxShardBytes: 100_000 });
    const shard = (await readdir(dir)).filter((f) => f.startsWith('model-')).sort()[0]!;
    await writeFile(join(dir, shard), new Uint8Array(4));
    await rejectsFormat(readWeights(dir), new RegExp(`^${escape(join(dir, shard))}: file is 4 bytes`));
  });

  test('an index naming a tensor absent from its shard', async () => {
    const src = await readWeights(MODEL);
    const dir = freshDir();
    await writeModelFolder(dir, {}, tensorsOf(src), { maxShardBytes: 100_000 });
    const indexPath = join(dir, 'model.safetensors.index.json');
    const index = JSON.parse(await readFile(indexPath, 'utf8'));
    index.weight_map['backbone.ghost.weight'] = index.weight_map['backbone.embeddings.weight'];
    await writeFile(indexPath, JSON.stringify(index));
    await rejectsFormat(
      readWeights(dir),
      new RegExp(`^${escape(indexPath)}: backbone\\.ghost\\.weight: the index puts it in model-00001-of-\\d+\\.safetensors, but that shard has no such tensor`),
    );
  });

  test('an index whose weight_map escapes the folder', async () => {
    const dir = freshDir();
    await writeModelFolder(dir, {}, {});
    await rm(join(dir, 'model.safetensors'));
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { w: '../x.safetensors' } }));
    await rejectsFormat(readWeights(dir), /weight_map: w: expected a shard file name in this folder, got "\.\.\/x\.safetensors"/);
  });
});
