/**
 * Shard names in a `model.safetensors.index.json` must not lead outside the model's folder
 * (issue 14): over HTTP, `%2e%2e/` and `.\t./` passed a check on the name as written, and URL parsing
 * then made the loader fetch `/private/secret.safetensors`. The server here decodes and normalises
 * paths as a naive static server does, and records every file it was asked for; the loader must never
 * ask for anything outside /model/, and the error must name the index and the shard.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FormatError } from '../src/errors.js';
import { readWeights } from '../src/io/hf-folder.js';
import { resolveInside, whyNotPlainName } from '../src/io/inside-folder.js';
import { folderFromFiles } from '../src/io/memory-folder.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { quoteForMessage } from '../src/quote.js';
import { FakeHub, fakeCommit } from './fake-hub.js';
import { fixture } from './helpers.js';

const MODEL = fixture('hf', 'mamba-tiny', 'model');
const INDEX = 'model.safetensors.index.json';

/** Shard names that try to leave the folder, each in its own way. */
const HOSTILE = [
  '%2e%2e/private/secret.safetensors',
  '%2E%2E/private/secret.safetensors',
  '.%2e/private/secret.safetensors',
  '.\t./private/secret.safetensors',
  '.\n./private/secret.safetensors',
  '../private/secret.safetensors',
  '/private/secret.safetensors',
  '..%2fprivate/secret.safetensors',
  '%2e%2e%2fprivate%2fsecret.safetensors',
  '%252e%252e/private/secret.safetensors',
  '..\\private\\secret.safetensors',
  'http://127.0.0.1:1/private/secret.safetensors',
  '//127.0.0.1/private/secret.safetensors',
  'C:/private/secret.safetensors',
  'a/../../private/secret.safetensors',
  'model-00001-of-00003.safetensors\u0000',
  '?/../../private/secret.safetensors',
  '',
];

let root: string;
let server: Server;
let origin: string;
/** The file paths (decoded and normalised, as the server saw them) of every request. */
const served: string[] = [];
let goodIndex: Record<string, unknown>;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'mamba-ts-escape-'));
  const model = join(root, 'model');
  const m = await MambaForCausalLM.fromPretrained(MODEL);
  await m.save(model, { maxShardBytes: 150_000 });
  m.dispose();
  goodIndex = JSON.parse(await readFile(join(model, INDEX), 'utf8')) as Record<string, unknown>;
  await mkdir(join(root, 'private'));
  const firstShard = (await readdir(model)).find((f) => f.startsWith('model-'))!;
  await copyFile(join(model, firstShard), join(root, 'private', 'secret.safetensors'));

  server = createServer((req, res) => {
    void (async () => {
      // A naive static server: decode, normalise, serve anything under its root.
      let path: string;
      try {
        path = posix.normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
      } catch {
        path = '(undecodable)';
      }
      served.push(path);
      const file = join(root, path);
      const s = await stat(file).catch(() => undefined);
      if (!s?.isFile()) return void res.writeHead(404).end();
      const body = await readFile(file);
      res.writeHead(200, { 'content-length': body.byteLength });
      res.end(req.method === 'HEAD' ? undefined : body);
    })();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server?.closeAllConnections();
  await new Promise<void>((ok) => (server ? server.close(() => ok()) : ok()));
  await rm(root, { recursive: true, force: true });
});

/** The good index with its first tensor moved to the shard `name`. */
function indexNaming(name: string): string {
  const map = { ...(goodIndex['weight_map'] as Record<string, string>) };
  const first = Object.keys(map)[0]!;
  map[first] = name;
  return JSON.stringify({ ...goodIndex, weight_map: map });
}

/** Checks a refusal: a FormatError naming the index file and quoting the shard name (escaped, cut). */
function assertRefusal(e: unknown, indexPath: string, name: string): true {
  assert.ok(e instanceof FormatError, `expected a FormatError, got ${String(e)}`);
  assert.ok(e.message.startsWith(`${indexPath}: weight_map: `), e.message);
  assert.ok(e.message.includes(quoteForMessage(name)), `the message names the shard ${quoteForMessage(name)}: ${e.message}`);
  assert.ok(!/[\u0000-\u001f]/.test(e.message), 'no raw control characters in the message');
  return true;
}

describe('shard names that lead outside the model folder', () => {
  test('over HTTP: refused, and nothing outside /model/ is ever requested', async () => {
    const indexUrl = `${origin}/model/${INDEX}`;
    for (const name of HOSTILE) {
      await writeFile(join(root, 'model', INDEX), indexNaming(name));
      const before = served.length;
      await assert.rejects(readWeights(`${origin}/model`), (e) => assertRefusal(e, indexUrl, name), JSON.stringify(name));
      const outside = served.slice(before).filter((p) => !p.startsWith('/model/'));
      assert.deepEqual(outside, [], `${JSON.stringify(name)} made the loader request ${outside.join(', ')}`);
    }
    assert.ok(!served.some((p) => p.includes('private')), 'the private file was never asked for');
    // The whole loader refuses too, and the good index still loads.
    await writeFile(join(root, 'model', INDEX), indexNaming('%2e%2e/private/secret.safetensors'));
    await assert.rejects(MambaForCausalLM.fromPretrained(`${origin}/model`), (e) => assertRefusal(e, indexUrl, '%2e%2e/private/secret.safetensors'));
    await writeFile(join(root, 'model', INDEX), JSON.stringify(goodIndex));
    const w = await readWeights(`${origin}/model/`);
    assert.deepEqual(w.names().sort(), Object.keys(goodIndex['weight_map'] as object).sort());
    assert.ok(!served.some((p) => p.includes('private')));
  });

  test('in a local folder: refused with the same message', async () => {
    const dir = join(root, 'local-model');
    await mkdir(dir, { recursive: true });
    for (const f of await readdir(join(root, 'model'))) if (f !== INDEX) await copyFile(join(root, 'model', f), join(dir, f));
    for (const name of HOSTILE) {
      await writeFile(join(dir, INDEX), indexNaming(name));
      await assert.rejects(readWeights(dir), (e) => assertRefusal(e, join(dir, INDEX), name), JSON.stringify(name));
    }
  });

  test('in an in-memory folder: refused', async () => {
    const files: Record<string, Uint8Array> = {};
    for (const f of await readdir(join(root, 'model'))) files[f] = new Uint8Array(await readFile(join(root, 'model', f)));
    files[INDEX] = new TextEncoder().encode(indexNaming('../2/model.safetensors'));
    const mounted = folderFromFiles(files);
    try {
      await assert.rejects(readWeights(mounted.path), (e) => assertRefusal(e, `${mounted.path}/${INDEX}`, '../2/model.safetensors'));
    } finally {
      mounted.release();
    }
  });

  test("from the Hub: an index cannot make the cache fetch another repository's files", async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'mamba-ts-escape-hub-'));
    const files: Record<string, Uint8Array> = {};
    for (const f of await readdir(join(root, 'model'))) files[f] = new Uint8Array(await readFile(join(root, 'model', f)));
    // resolve/{commit}/ is four parts below the Hub's root: four ".." reach another repository.
    const name = '%2e%2e/%2e%2e/%2e%2e/%2e%2e/test-org/secret/resolve/main/secret.safetensors';
    files[INDEX] = new TextEncoder().encode(indexNaming(name));
    const hostile = fakeCommit('hostile main');
    const secret = fakeCommit('secret main');
    const hub = await FakeHub.start({
      'test-org/hostile': { refs: { main: hostile }, commits: { [hostile]: files } },
      'test-org/secret': { refs: { main: secret }, commits: { [secret]: { 'secret.safetensors': files[Object.keys(files).find((f) => f.startsWith('model-'))!]! } } },
    });
    try {
      await assert.rejects(MambaForCausalLM.fromPretrained('test-org/hostile', { endpoint: hub.url, cacheDir }), (e: Error) => {
        assert.ok(e instanceof FormatError && e.message.includes(INDEX) && e.message.includes(quoteForMessage(name)), e.message);
        return true;
      });
      const leaked = hub.requests.filter((r) => r.url.includes('secret'));
      assert.deepEqual(leaked, [], 'no request reached the other repository');
    } finally {
      await hub.close();
      await rm(cacheDir, { recursive: true, force: true });
    }
  });
});

describe('the name checks themselves', () => {
  test('plain names pass, in folders and subfolders, local or URL', () => {
    for (const name of ['model-00001-of-00002.safetensors', 'sub/model.safetensors', 'model 1.safetensors', 'mödel.safetensors', 'a%20b.safetensors', '...safetensors']) {
      assert.equal(whyNotPlainName(name), undefined, name);
      assert.equal(resolveInside('/models/m', name), `/models/m/${name}`);
      assert.equal(resolveInside('models/m/', name), `models/m/${name}`);
      assert.ok(resolveInside('https://h.example/org/m/resolve/main', name)?.startsWith('https://h.example/org/m/resolve/main/'), name);
    }
    assert.equal(resolveInside('https://h.example/m', 'model.safetensors'), 'https://h.example/m/model.safetensors');
    assert.equal(resolveInside('memory://3', 'model.safetensors'), 'memory://3/model.safetensors');
  });

  test('each hostile name is refused with a reason', () => {
    for (const name of HOSTILE) {
      assert.ok(whyNotPlainName(name) !== undefined, JSON.stringify(name));
      assert.equal(resolveInside(`${'https://h.example/model'}`, name), undefined, JSON.stringify(name));
      assert.equal(resolveInside('/srv/model', name), undefined, JSON.stringify(name));
    }
    assert.match(whyNotPlainName('%2e%2e/x')!, /after percent-decoding, it has an empty, "\." or "\.\." part/);
    assert.match(whyNotPlainName('.\t./x')!, /control character/);
    assert.match(whyNotPlainName('x'.repeat(2000))!, /longer than 1024 characters/);
    assert.match(whyNotPlainName('%zz')!, /not a valid percent-escape/);
  });

  test('error messages quote names cut and escaped', () => {
    assert.equal(quoteForMessage('.\t./x'), '".\\t./x"');
    assert.equal(quoteForMessage('a\u202eb'), '"a\\u202eb"');
    const long = quoteForMessage('root:x:0:0:'.repeat(100));
    assert.ok(long.length < 120 && long.endsWith('… (1,100 characters)'), long);
    assert.equal(quoteForMessage({ secret: 'root:x' }), 'an object');
    assert.equal(quoteForMessage(['root:x']), 'an array of 1 item');
    assert.equal(quoteForMessage(5), '5');
  });
});
