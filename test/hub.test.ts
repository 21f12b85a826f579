/**
 * Loading from the HuggingFace Hub by id, against a Hub on 127.0.0.1 (test/fake-hub.ts) serving
 * mamba-tiny (and the GPT-NeoX tokenizer) with the Hub's URL scheme and headers. Each test uses a
 * cache folder of its own and counts the requests the server saw.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { DownloadProgressBar } from '../src/cli/download-progress.js';
import { ArgumentError, HubError } from '../src/errors.js';
import { hubFolderUrl, isHubId, type DownloadProgress, type HubOptions } from '../src/io/hub.js';
import { AutoTokenizer } from '../src/io/tokenizer.js';
import { AutoModelForCausalLM, type AnyCausalLM } from '../src/models/auto.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { FakeHub, fakeCommit } from './fake-hub.js';
import { SHARED, fixture } from './helpers.js';

const MODEL_DIR = fixture('hf', 'mamba-tiny', 'model');
const TOKENIZER_JSON = resolve(SHARED, 'data/tokenizers/gpt-neox-20b/tokenizer.json');
const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');
const REPO = 'test-org/mamba-tiny';
const MAIN = fakeCommit('mamba-tiny main');
const SHARDED = fakeCommit('mamba-tiny sharded');
const PRIVATE = fakeCommit('private main');
const TOKEN = 'hf_testtoken';
const IDS = [[1, 5, 7, 300, 2]];

let hub: FakeHub;
let modelBytes: Uint8Array;
const temps: string[] = [];

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'mamba-ts-hub-'));
  temps.push(d);
  return d;
}

/** Options for the fake Hub and a fresh cache (or the one given). */
async function opts(extra: HubOptions = {}): Promise<HubOptions & { cacheDir: string }> {
  return { endpoint: hub.url, cacheDir: extra.cacheDir ?? (await tempDir()), ...extra };
}

async function logitsOf(model: AnyCausalLM): Promise<number[]> {
  try {
    const out = await model.forward(IDS);
    const values = Array.from(await out.logits.data());
    out.logits.dispose();
    return values;
  } finally {
    model.dispose();
  }
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const repoCache = (cacheDir: string) => join(cacheDir, 'models--test-org--mamba-tiny');

let localLogits: number[];

before(async () => {
  for (const k of ['HF_ENDPOINT', 'HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'HF_HUB_OFFLINE', 'HF_HUB_CACHE', 'HF_HOME']) delete process.env[k];
  modelBytes = new Uint8Array(await readFile(join(MODEL_DIR, 'model.safetensors')));
  const main: Record<string, Uint8Array> = {
    'config.json': new Uint8Array(await readFile(join(MODEL_DIR, 'config.json'))),
    'model.safetensors': modelBytes,
    'tokenizer.json': new Uint8Array(await readFile(TOKENIZER_JSON)),
  };
  // The same weights in shards (model.safetensors.index.json + 3 files), on a branch of their own.
  const shardDir = await tempDir();
  const m = await MambaForCausalLM.fromPretrained(MODEL_DIR);
  await m.save(shardDir, { maxShardBytes: 150_000 });
  m.dispose();
  const sharded: Record<string, Uint8Array> = { 'tokenizer.json': main['tokenizer.json']!, 'tokenizer_config.json': new TextEncoder().encode('{"eos_token": "<|endoftext|>"}') };
  for (const f of await readdir(shardDir)) sharded[f] = new Uint8Array(await readFile(join(shardDir, f)));
  assert.ok(sharded['model.safetensors.index.json'] && !sharded['model.safetensors'], 'the branch is sharded');
  hub = await FakeHub.start({
    [REPO]: { refs: { main: MAIN, sharded: SHARDED }, commits: { [MAIN]: main, [SHARDED]: sharded } },
    'test-org/private-tiny': { refs: { main: PRIVATE }, commits: { [PRIVATE]: main }, token: TOKEN },
    'test-org/no-config': { refs: { main: MAIN }, commits: { [MAIN]: { 'README.md': new TextEncoder().encode('# empty\n') } } },
  });
  localLogits = await logitsOf(await AutoModelForCausalLM.fromPretrained(MODEL_DIR));
});

after(async () => {
  await hub?.close();
  for (const d of temps) await rm(d, { recursive: true, force: true });
});

describe('loading from the HuggingFace Hub', () => {
  test('Hub ids are owner/name; paths and URLs are not', () => {
    for (const id of ['state-spaces/mamba-130m-hf', 'a/b', 'ai21labs/Jamba-v0.1', 'x_y/z.v2']) assert.ok(isHubId(id), id);
    for (const p of ['mamba', './a/b', '/a/b', 'a/b/c', '../a', 'a/.b', 'a/b.', 'a--b/c', 'a/b..c', 'https://x/y', 'C:\\a\\b', 'a/']) assert.ok(!isHubId(p), p);
  });

  test('a Hub id loads the model and tokenizer into the cache, giving the local folder\'s logits', async () => {
    const o = await opts();
    const events: DownloadProgress[] = [];
    const model = await AutoModelForCausalLM.fromPretrained(REPO, { ...o, progressCallback: (p) => p.status !== 'loading' && events.push(p) });
    assert.deepEqual(await logitsOf(model), localLogits);
    const tok = await AutoTokenizer.fromPretrained(REPO, o);
    const localTok = await AutoTokenizer.fromPretrained(dirname(TOKENIZER_JSON));
    assert.deepEqual(tok.encode('Hello world, said the model.'), localTok.encode('Hello world, said the model.'));

    // huggingface_hub's layout: refs/main → commit; snapshot files are relative links to blobs named
    // by ETag (sha256 for LFS files); a file the repository lacks is marked under .no_exist.
    const root = repoCache(o.cacheDir);
    assert.equal(await readFile(join(root, 'refs', 'main'), 'utf8'), MAIN);
    const link = join(root, 'snapshots', MAIN, 'model.safetensors');
    assert.ok((await lstat(link)).isSymbolicLink());
    assert.equal(await readlink(link), `../../blobs/${sha256(modelBytes)}`);
    assert.ok((await stat(join(root, '.no_exist', MAIN, 'tokenizer_config.json'))).isFile());
    assert.deepEqual((await readdir(join(root, 'snapshots', MAIN))).sort(), ['config.json', 'model.safetensors', 'tokenizer.json']);

    const weights = events.filter((e) => e.file === 'model.safetensors');
    assert.equal(weights[0]?.status, 'download');
    assert.deepEqual(weights.at(-1), { status: 'done', repo: REPO, file: 'model.safetensors', loaded: modelBytes.byteLength, total: modelBytes.byteLength, progress: 100 });
    for (let i = 1; i < weights.length; i++) assert.ok(weights[i]!.loaded >= weights[i - 1]!.loaded);
    assert.ok(events.some((e) => e.file === 'config.json' && e.status === 'done'));
  });

  test('a second load makes no request, at a branch or at a commit', async () => {
    const o = await opts();
    await logitsOf(await AutoModelForCausalLM.fromPretrained(REPO, o));
    await AutoTokenizer.fromPretrained(REPO, o);
    const seen = hub.requests.length;
    const events: DownloadProgress[] = [];
    assert.deepEqual(await logitsOf(await AutoModelForCausalLM.fromPretrained(REPO, { ...o, progressCallback: (p) => p.status !== 'loading' && events.push(p) })), localLogits);
    await AutoTokenizer.fromPretrained(REPO, o);
    await logitsOf(await MambaForCausalLM.fromPretrained(REPO, { ...o, revision: MAIN }));
    assert.deepEqual(hub.requestsSince(seen), []);
    assert.deepEqual(events, []);
    // refresh asks the Hub what main is now, and downloads nothing more.
    await logitsOf(await AutoModelForCausalLM.fromPretrained(REPO, { ...o, refresh: true }));
    assert.deepEqual(hub.requestsSince(seen).map((r) => new URL(r.url, hub.url).pathname), [`/api/models/${REPO}/revision/main`]);
  });

  test('a repository the Hub does not have is an error naming it and the revision', async () => {
    const o = await opts();
    await assert.rejects(AutoModelForCausalLM.fromPretrained('test-org/no-such-model', o), (e: unknown) => {
      assert.ok(e instanceof HubError, String(e));
      assert.equal(e.status, 404);
      assert.match(e.message, /^test-org\/no-such-model: not found at http:\/\/127\.0\.0\.1:\d+ \(revision "main"\).*HF_TOKEN/);
      return true;
    });
    await assert.rejects(AutoTokenizer.fromPretrained(REPO, { ...o, revision: 'v9' }), /test-org\/mamba-tiny: not found .*revision "v9"/);
    await assert.rejects(AutoModelForCausalLM.fromPretrained('test-org/no-config', o), /test-org\/no-config: the repository has no file config\.json at revision "main"/);
    await assert.rejects(AutoModelForCausalLM.fromPretrained(REPO, { ...o, endpoint: 'http://127.0.0.1:9' }), /test-org\/mamba-tiny: cannot get revision "main" from http:\/\/127\.0\.0\.1:9: fetch failed.*HF_HUB_OFFLINE/);
  });

  test('a download cut halfway leaves no file under its final name, and the next load completes it', async () => {
    const o = await opts();
    const root = repoCache(o.cacheDir);
    const blob = join(root, 'blobs', sha256(modelBytes));
    hub.cutNext.add('model.safetensors');
    await assert.rejects(AutoModelForCausalLM.fromPretrained(REPO, o), /test-org\/mamba-tiny: downloading model\.safetensors at revision "main" .*failed after \d+ of 395176 bytes.*resumes/);
    assert.equal(hub.cutNext.size, 0, 'the server cut the download');
    await assert.rejects(stat(blob), { code: 'ENOENT' });
    await assert.rejects(lstat(join(root, 'snapshots', MAIN, 'model.safetensors')), { code: 'ENOENT' });
    const part = (await stat(`${blob}.incomplete`)).size;
    assert.ok(part < modelBytes.byteLength);

    const seen = hub.requests.length;
    assert.deepEqual(await logitsOf(await AutoModelForCausalLM.fromPretrained(REPO, o)), localLogits);
    assert.deepEqual(new Uint8Array(await readFile(blob)), modelBytes);
    await assert.rejects(stat(`${blob}.incomplete`), { code: 'ENOENT' });
    // What arrived before the cut is kept: the retry asks for the rest only.
    if (part > 0) assert.ok(hub.requestsSince(seen).some((r) => r.range === `bytes=${part}-${modelBytes.byteLength - 1}`), JSON.stringify(hub.requestsSince(seen)));
  });

  test('a partial download resumes from where it stopped; a corrupt one starts over', async () => {
    for (const [name, start] of [['resumed', modelBytes.subarray(0, 100_000)], ['corrupt', new Uint8Array(100_000).fill(7)]] as const) {
      const o = await opts();
      const blob = join(repoCache(o.cacheDir), 'blobs', sha256(modelBytes));
      await mkdir(dirname(blob), { recursive: true });
      await writeFile(`${blob}.incomplete`, start);
      const seen = hub.requests.length;
      const events: DownloadProgress[] = [];
      assert.deepEqual(await logitsOf(await AutoModelForCausalLM.fromPretrained(REPO, { ...o, progressCallback: (p) => p.status !== 'loading' && events.push(p) })), localLogits, name);
      assert.deepEqual(new Uint8Array(await readFile(blob)), modelBytes, name);
      const ranges = hub.requestsSince(seen).filter((r) => r.url.startsWith('/lfs-objects/')).map((r) => r.range);
      const starts = events.filter((e) => e.file === 'model.safetensors' && e.status === 'download').map((e) => e.loaded);
      if (name === 'resumed') {
        assert.ok(ranges.includes(`bytes=100000-${modelBytes.byteLength - 1}`), JSON.stringify(ranges));
        assert.deepEqual(starts, [100_000]);
      } else {
        assert.deepEqual(starts, [100_000, 0]); // the checksum failed: downloaded again from the start
      }
    }
  });

  test('offline mode uses the cache alone, and says what is missing', async () => {
    const o = await opts({ localFilesOnly: true });
    const seen = hub.requests.length;
    await assert.rejects(AutoModelForCausalLM.fromPretrained(REPO, o), (e: unknown) => {
      assert.ok(e instanceof HubError);
      assert.match(e.message, /^test-org\/mamba-tiny: revision "main" is not in the cache \(.*models--test-org--mamba-tiny\), and offline mode \(HF_HUB_OFFLINE or localFilesOnly\)/);
      return true;
    });
    await logitsOf(await AutoModelForCausalLM.fromPretrained(REPO, { ...o, localFilesOnly: false }));
    const mark = hub.requests.length;
    process.env['HF_HUB_OFFLINE'] = '1';
    try {
      assert.deepEqual(await logitsOf(await AutoModelForCausalLM.fromPretrained(REPO, { endpoint: hub.url, cacheDir: o.cacheDir })), localLogits);
      // The tokenizer was never fetched: offline, the error names the file.
      await assert.rejects(AutoTokenizer.fromPretrained(REPO, { endpoint: hub.url, cacheDir: o.cacheDir }), /tokenizer\.json at revision "main" \(commit [0-9a-f]{40}\) is not in the cache/);
      assert.deepEqual(hub.requestsSince(mark), []);
    } finally {
      delete process.env['HF_HUB_OFFLINE'];
    }
    assert.ok(hub.requestsSince(seen).length > 0 && hub.requests.length === mark);
  });

  test('a revision: a branch with sharded weights, and a commit hash', async () => {
    const o = await opts();
    assert.deepEqual(await logitsOf(await AutoModelForCausalLM.fromPretrained(REPO, { ...o, revision: 'sharded' })), localLogits);
    const root = repoCache(o.cacheDir);
    assert.equal(await readFile(join(root, 'refs', 'sharded'), 'utf8'), SHARDED);
    const files = (await readdir(join(root, 'snapshots', SHARDED))).sort();
    assert.deepEqual(files, ['config.json', 'model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors', 'model.safetensors.index.json']);
    const tok = await AutoTokenizer.fromPretrained(REPO, { ...o, revision: SHARDED });
    assert.equal(tok.eosTokenId, tok.tokenToId('<|endoftext|>'));
    // By commit hash: no branch look-up, and no refs/ entry for it.
    const o2 = await opts();
    const seen = hub.requests.length;
    assert.deepEqual(await logitsOf(await AutoModelForCausalLM.fromPretrained(REPO, { ...o2, revision: MAIN })), localLogits);
    assert.ok(!hub.requestsSince(seen).some((r) => r.url.startsWith('/api/')));
    await assert.rejects(stat(join(repoCache(o2.cacheDir), 'refs')), { code: 'ENOENT' });
  });

  test('HF_TOKEN is sent as a Bearer token to the Hub, and not to a CDN of another origin', async () => {
    const o = await opts();
    await assert.rejects(AutoModelForCausalLM.fromPretrained('test-org/private-tiny', o), (e: unknown) => e instanceof HubError && e.status === 401 && /HF_TOKEN/.test(e.message));
    await assert.rejects(AutoModelForCausalLM.fromPretrained('test-org/private-tiny', { ...o, token: 'secret' }), ArgumentError);
    hub.lfsRedirect = 'absolute';
    process.env['HF_TOKEN'] = TOKEN;
    const seen = hub.requests.length;
    try {
      assert.deepEqual(await logitsOf(await AutoModelForCausalLM.fromPretrained('test-org/private-tiny', o)), localLogits);
    } finally {
      delete process.env['HF_TOKEN'];
      hub.lfsRedirect = 'relative';
    }
    const reqs = hub.requestsSince(seen);
    assert.ok(reqs.some((r) => r.server === 'cdn'), 'the weights came from the CDN');
    for (const r of reqs) assert.equal(r.authorization, r.server === 'hub' ? `Bearer ${TOKEN}` : undefined, r.url);
  });

  test('a local folder wins over the Hub id of the same name', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, REPO), { recursive: true });
    for (const f of ['config.json', 'model.safetensors']) await copyFile(join(MODEL_DIR, f), join(dir, REPO, f));
    const cwd = process.cwd();
    const seen = hub.requests.length;
    process.chdir(dir);
    try {
      assert.deepEqual(await logitsOf(await AutoModelForCausalLM.fromPretrained(REPO, await opts())), localLogits);
    } finally {
      process.chdir(cwd);
    }
    assert.deepEqual(hub.requestsSince(seen), []);
  });

  test('a cache laid out by Python\'s huggingface_hub under HF_HOME is used without a request', async () => {
    const home = await tempDir();
    const root = join(home, 'hub', 'models--test-org--mamba-tiny');
    // As hf_hub_download leaves it: blobs named by ETag, relative links, refs/main.
    const files: [string, string][] = [['config.json', 'b1e2c3d4e5f60718293a4b5c6d7e8f9012345678'], ['model.safetensors', sha256(modelBytes)]];
    await mkdir(join(root, 'blobs'), { recursive: true });
    await mkdir(join(root, 'snapshots', MAIN), { recursive: true });
    await mkdir(join(root, 'refs'), { recursive: true });
    for (const [f, etag] of files) {
      await copyFile(join(MODEL_DIR, f), join(root, 'blobs', etag));
      await symlink(`../../blobs/${etag}`, join(root, 'snapshots', MAIN, f));
    }
    await writeFile(join(root, 'refs', 'main'), MAIN);
    const seen = hub.requests.length;
    process.env['HF_HOME'] = home;
    try {
      assert.deepEqual(await logitsOf(await AutoModelForCausalLM.fromPretrained(REPO, { endpoint: hub.url })), localLogits);
    } finally {
      delete process.env['HF_HOME'];
    }
    assert.deepEqual(hub.requestsSince(seen), []);
  });

  test('without a cache (browsers), the repository\'s resolve URL loads as a folder URL', async () => {
    assert.equal(hubFolderUrl('state-spaces/mamba-130m-hf'), 'https://huggingface.co/state-spaces/mamba-130m-hf/resolve/main/');
    assert.equal(hubFolderUrl('a/b', { endpoint: 'http://h/', revision: 'refs/pr/1' }), 'http://h/a/b/resolve/refs%2Fpr%2F1/');
    for (const revision of ['main', 'sharded']) {
      const url = hubFolderUrl(REPO, { endpoint: hub.url, revision });
      assert.deepEqual(await logitsOf(await AutoModelForCausalLM.fromPretrained(url)), localLogits, revision);
    }
    const tok = await AutoTokenizer.fromPretrained(hubFolderUrl(REPO, { endpoint: hub.url }));
    assert.deepEqual(tok.encode('Hello world'), (await AutoTokenizer.fromPretrained(dirname(TOKENIZER_JSON))).encode('Hello world'));
  });

  test('the CLI\'s progress bar draws each download on a terminal, and nothing on a pipe', async () => {
    const draw = async (isTTY: boolean) => {
      let text = '';
      const stream = Object.assign(new Writable({ write: (chunk, _, done) => ((text += String(chunk)), done()) }), { isTTY, columns: 200 });
      const bar = new DownloadProgressBar(stream);
      await AutoModelForCausalLM.fromPretrained(REPO, await opts({ progressCallback: (p) => p.status !== 'loading' && bar.callback(p) })).then((m) => m.dispose());
      bar.stop();
      return text;
    };
    const text = await draw(true);
    for (const file of ['config.json', 'model.safetensors']) assert.match(text, new RegExp(`test-org/mamba-tiny ${file} \\|.*\\| 100% `), text);
    assert.match(text, /model\.safetensors .* 0\.4\/0\.4 MiB/);
    assert.equal(await draw(false), '');
  });

  test('the CLI: generate and info take a Hub id through HF_ENDPOINT and HF_HUB_CACHE', async () => {
    const env = { ...process.env, HF_ENDPOINT: hub.url, HF_HUB_CACHE: await tempDir() };
    const run = async (...args: string[]) => {
      try {
        const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], { env, timeout: 60_000 });
        return { code: 0, out: stdout, err: stderr };
      } catch (e) {
        const x = e as { code: number; stdout: string; stderr: string };
        return { code: x.code, out: x.stdout, err: x.stderr };
      }
    };
    const g = await run('generate', '--model', REPO, '-n', '4', 'The');
    assert.equal(g.code, 0, g.err);
    assert.ok(g.out.startsWith('The') && g.out.length > 'The\n'.length, JSON.stringify(g.out));
    const seen = hub.requests.length;
    const i = await run('info', '--model', REPO, '--revision', 'sharded');
    assert.equal(i.code, 0, i.err);
    assert.match(i.out, /^model: +test-org\/mamba-tiny\n/);
    assert.match(i.out, /parameters: +\d/);
    assert.ok(hub.requestsSince(seen).some((r) => r.url.includes('/resolve/')), 'the sharded branch was downloaded');
    const bad = await run('generate', '--model', 'test-org/no-such-model', 'x');
    assert.equal(bad.code, 1);
    assert.match(bad.err, /^mamba-ts: test-org\/no-such-model: not found at .*\(revision "main"\)/);
    assert.equal(bad.err.trim().split('\n').length, 1, bad.err);
  });
});
