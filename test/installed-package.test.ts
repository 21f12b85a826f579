/**
 * The package as a user gets it: `npm pack` of this repository, installed from the tarball into a
 * separate project, its `mamba-ts` bin run through `npx`, and every runnable example of README.md
 * run there as written.
 *
 * README examples (the convention, also stated at the top of README.md; test/readme-examples.ts
 * reads it): a fenced block right after a marker line `<!-- example: NAME -->` is run, in README
 * order, in the consumer project: ```sh blocks with `bash -e NAME.sh`, ```js blocks saved as NAME.mjs
 * and run with node. Unmarked blocks are prose (synopses, fragments) and are not run. A marked
 * example that exits non-zero fails its test with its stderr; a README without marked examples
 * fails too.
 *
 * Hub ids in the examples (`state-spaces/mamba-130m-hf`) are served by the fake Hub of
 * test/fake-hub.ts on 127.0.0.1 (`HF_ENDPOINT`, with `HF_HUB_CACHE` in a temporary folder). The
 * weights served are NOT mamba-130m's: they are the tiny test fixture's (fixtures/hf/mamba-tiny,
 * 2 layers, 64 wide) with its embedding extended by small random rows from 512 to 50280 ids
 * (mamba-130m's vocabulary size), so that the GPT-NeoX tokenizer served beside it yields ids the
 * model has.
 *
 * The one network access is `npm install` (dependencies from npm's cache when present, else the
 * registry). When that fails because the registry is unreachable, the install-dependent tests skip
 * with the reason, except under CI=true, where they fail.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test, type TestContext } from 'node:test';
import { SafetensorsFile, serializeSafetensors, type TensorToWrite } from '../src/io/safetensors.js';
import { FakeHub, fakeCommit } from './fake-hub.js';
import { SHARED, fixture, randomArray } from './helpers.js';
import { extractExamples, type ReadmeExample } from './readme-examples.js';
import { listTarGz, type TarEntry } from './tarball.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; bin: Record<string, string> };
/** The Hub id the README's examples load. */
const HUB_ID = 'state-spaces/mamba-130m-hf';
/** mamba-130m-hf's vocabulary size (GPT-NeoX's tokenizer, padded). */
const HUB_VOCAB = 50280;

// Read at load time: one test per marked example. A malformed marker fails the check below.
let examples: ReadmeExample[] = [];
let readmeError: Error | undefined;
try {
  examples = extractExamples(readFileSync(join(ROOT, 'README.md'), 'utf8'));
} catch (e) {
  readmeError = e as Error;
}

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/**
 * The environment of a user's shell: without what `npm test` adds (npm_* variables, among them
 * npm_config_local_prefix, which would make npx treat this repository as the project, and
 * node_modules/.bin folders on PATH), without HuggingFace or mamba-ts settings, plus `extra`.
 */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) && !/^npm_config_(cache|registry|userconfig)$/i.test(k)) continue;
    if (k === 'INIT_CWD' || k === 'NODE_TEST_CONTEXT' || /^(HF_|HUGGING_FACE_|MAMBA_TS_)/.test(k)) continue;
    env[k] = v;
  }
  env['PATH'] = (process.env['PATH'] ?? '')
    .split(delimiter)
    .filter((p) => !/node_modules[\\/]\.bin$|node-gyp-bin$/.test(p))
    .join(delimiter);
  return { ...env, ...extra };
}

/** Runs a command to its end without blocking the event loop (the fake Hub answers meanwhile). */
function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs = 180_000): Promise<Ran> {
  const t0 = performance.now();
  return new Promise((ok, fail) => {
    const child = spawn(command, args, { cwd, env, timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', fail);
    child.on('close', (code, signal) => ok({ code, signal, stdout, stderr, seconds: (performance.now() - t0) / 1000 }));
  });
}

const tail = (s: string, n = 4000) => (s.length > n ? `…${s.slice(-n)}` : s);
function describeExit(what: string, r: Ran): string {
  const how = r.signal ? `was killed by ${r.signal} (timeout?)` : `exited with ${r.code}`;
  return `${what} ${how} after ${r.seconds.toFixed(1)} s\n--- stderr ---\n${tail(r.stderr)}\n--- stdout ---\n${tail(r.stdout)}`;
}

const INSTALL_TIMEOUT_MS = 240_000;
/** npm's messages when the registry cannot be reached. */
const NETWORK_FAILURE = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|network|socket hang up/i;

/** The line of npm's error output that says what failed on the network. */
function networkLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  return lines.find((l) => /FetchError|reason:/.test(l)) ?? lines.find((l) => NETWORK_FAILURE.test(l)) ?? lines.at(-1) ?? '';
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(p)));
    else if (entry.isFile()) out.push(p);
  }
  return out;
}

/** The repository files the fake Hub serves under HUB_ID (see the comment at the top). */
async function hubRepoFiles(): Promise<Record<string, Uint8Array>> {
  const dir = fixture('hf', 'mamba-tiny', 'model');
  const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(config['tie_word_embeddings'], true, 'the fixture ties its embedding and head (only the embedding is extended)');
  const source = join(dir, 'model.safetensors');
  const weights = SafetensorsFile.parse(new Uint8Array(await readFile(source)), source);
  const tensors: Record<string, TensorToWrite> = {};
  for (const name of weights.names()) {
    const e = weights.entry(name);
    tensors[name] = { dtype: e.dtype, shape: e.shape, data: weights.raw(name).slice() };
  }
  const name = 'backbone.embeddings.weight';
  const [rows, width] = weights.entry(name).shape as [number, number];
  const embedding = new Float32Array(HUB_VOCAB * width);
  embedding.set(weights.toFloat32(name));
  embedding.set(randomArray((HUB_VOCAB - rows) * width, 12, -0.1, 0.1), rows * width);
  tensors[name] = { dtype: 'F32', shape: [HUB_VOCAB, width], data: embedding };
  const enc = new TextEncoder();
  return {
    'config.json': enc.encode(JSON.stringify({ ...config, vocab_size: HUB_VOCAB }, null, 2)),
    'model.safetensors': serializeSafetensors(tensors, weights.metadata),
    'tokenizer.json': new Uint8Array(await readFile(resolve(SHARED, 'data/tokenizers/gpt-neox-20b/tokenizer.json'))),
  };
}

let tmp: string;
let tarball: string;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'mamba-ts-package-'));
  const bin = join(ROOT, 'dist/src/cli/main.js');
  if (!existsSync(bin)) throw new Error(`${bin} is missing: build first (npm run build; npm test does)`);
  const packed = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', tmp], ROOT, userEnv());
  if (packed.code !== 0) throw new Error(describeExit('npm pack', packed));
  const tgz = (await readdir(tmp)).filter((f) => f.endsWith('.tgz'));
  assert.equal(tgz.length, 1, `npm pack wrote ${tgz.join(', ') || 'no .tgz'} into ${tmp}`);
  tarball = join(tmp, tgz[0]!);
});

after(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('README example markers', () => {
  test('README.md marks runnable examples, each a ```sh or ```js block', () => {
    if (readmeError) throw readmeError;
    assert.ok(examples.length > 0, 'README.md has no marked examples (<!-- example: NAME --> before a ```sh or ```js block); the package test would check nothing');
  });

  test('markers are read as documented, and a marker on a block that cannot run is an error naming the line', () => {
    const md = ['# x', '```sh', 'not run', '```', '<!-- example: a -->', '```sh', 'echo a', '```', '<!-- example: b -->', '```js', "console.log('b');", '```'].join('\n');
    assert.deepEqual(extractExamples(md, 'X.md'), [
      { name: 'a', lang: 'sh', code: 'echo a\n', line: 5 },
      { name: 'b', lang: 'js', code: "console.log('b');\n", line: 9 },
    ]);
    assert.throws(() => extractExamples('\n<!-- example: t -->\n```ts\nlet x: number;\n```\n', 'X.md'), /X\.md:2: example "t" is a ```ts block/);
    assert.throws(() => extractExamples('<!-- example: p -->\n\nprose\n', 'X.md'), /X\.md:1: the marker for "p" must be followed directly by a fenced code block/);
    assert.throws(() => extractExamples('<!-- example: d -->\n```sh\na\n```\n<!-- example: d -->\n```sh\nb\n```\n', 'X.md'), /X\.md:5: example name "d" is used twice/);
  });
});

describe('the packed tarball', () => {
  let entries: TarEntry[];
  before(async () => {
    entries = listTarGz(new Uint8Array(await readFile(tarball)));
  });

  test('its bins are executable (tar header mode), so npm can run them directly', () => {
    for (const [name, path] of Object.entries(PKG.bin)) {
      const inTar = `package/${path.replace(/^\.\//, '')}`;
      const entry = entries.find((e) => e.path === inTar);
      assert.ok(entry, `bin ${name}: ${inTar} is not in the tarball`);
      assert.equal(entry.mode & 0o111, 0o111, `bin ${name}: ${inTar} has mode ${entry.mode.toString(8)}, not executable by all`);
    }
    assert.ok(entries.some((e) => e.path === 'package/dist/src/cli/main.js'), 'dist/src/cli/main.js (the mamba-ts bin) is packed');
  });

  test('it holds every file of models/ and data/ (and LICENSE where the repository has one)', async () => {
    const packed = new Set(entries.map((e) => e.path));
    const wanted = [...(await filesUnder(join(ROOT, 'models'))), ...(await filesUnder(join(ROOT, 'data')))].map((f) => relative(ROOT, f).split('\\').join('/'));
    assert.ok(wanted.includes('data/tinyshakespeare.txt') && wanted.some((f) => f.startsWith('models/mamba-shakespeare/')), 'the repository has the bundled model and corpus');
    const missing = wanted.filter((f) => !packed.has(`package/${f}`));
    assert.deepEqual(missing, [], 'files of models/ or data/ missing from the tarball');
    if (existsSync(join(ROOT, 'LICENSE'))) assert.ok(packed.has('package/LICENSE'), 'LICENSE is not packed');
  });

  test('it holds no tests', () => {
    const stray = entries.map((e) => e.path).filter((p) => /^package\/(dist\/)?test\//.test(p));
    assert.deepEqual(stray, [], 'test files in the tarball');
  });
});

describe('in the repository itself', () => {
  test('npx mamba-ts --version runs the package\'s own bin (npm runs the file directly)', async () => {
    const r = await run('npx', ['mamba-ts', '--version'], ROOT, userEnv());
    assert.equal(r.code, 0, describeExit('npx mamba-ts --version in the repository root', r));
    assert.equal(r.stdout.trim(), PKG.version);
  });
});

describe('installed from the tarball into a separate project', () => {
  let consumer: string;
  let hub: FakeHub | undefined;
  let installSeconds = NaN;
  let skipReason: string | undefined;
  let installFailure: Error | undefined;

  before(async () => {
    consumer = join(tmp, 'consumer');
    await mkdir(consumer);
    await writeFile(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2));
    // One quick retry instead of npm's default two with 10-60 s waits, so that an unreachable
    // registry is known in seconds rather than minutes.
    const flags = ['--no-audit', '--no-fund', '--prefer-offline', '--fetch-retries=1', '--fetch-retry-mintimeout=1000', '--fetch-retry-maxtimeout=3000'];
    const install = await run('npm', ['install', tarball, ...flags], consumer, userEnv(), INSTALL_TIMEOUT_MS);
    installSeconds = install.seconds;
    if (install.code !== 0) {
      const why = describeExit(`npm install ${tarball}`, install);
      // A run killed by the timeout is waiting for the network too.
      if (!NETWORK_FAILURE.test(install.stderr) && install.signal === null) installFailure = new Error(why);
      else if (process.env['CI'] === 'true') installFailure = new Error(`the npm registry is unreachable (a failure under CI=true): ${why}`);
      else skipReason = `the npm registry is unreachable, so the tarball's dependencies could not be installed (CI=true makes this a failure): ${install.signal ? `no answer in ${INSTALL_TIMEOUT_MS / 1000} s` : networkLine(install.stderr)}`;
      return;
    }
    const commit = fakeCommit('mamba-130m-hf main');
    hub = await FakeHub.start({ [HUB_ID]: { refs: { main: commit }, commits: { [commit]: await hubRepoFiles() } } });
  });

  after(async () => {
    await hub?.close();
  });

  /** False when the test should skip (no registry); throws when the install failed otherwise. */
  function installed(t: TestContext): boolean {
    if (installFailure) throw installFailure;
    if (skipReason) {
      t.skip(skipReason);
      return false;
    }
    return true;
  }

  test('npx mamba-ts --version', async (t) => {
    if (!installed(t)) return;
    t.diagnostic(`npm install of the tarball took ${installSeconds.toFixed(1)} s`);
    const r = await run('npx', ['mamba-ts', '--version'], consumer, userEnv());
    assert.equal(r.code, 0, describeExit('npx mamba-ts --version', r));
    assert.equal(r.stdout.trim(), PKG.version);
  });

  test('npx mamba-ts generate "ROMEO:" (the README\'s main command) continues in Shakespeare\'s manner', async (t) => {
    if (!installed(t)) return;
    const r = await run('npx', ['mamba-ts', 'generate', 'ROMEO:'], consumer, userEnv());
    assert.equal(r.code, 0, describeExit('npx mamba-ts generate "ROMEO:"', r));
    assert.ok(r.stdout.startsWith('ROMEO:'), JSON.stringify(r.stdout));
    const rest = r.stdout.slice('ROMEO:'.length);
    assert.match(rest, /^[\x20-\x7e\n]{32,}$/, `a continuation of printable text: ${JSON.stringify(rest)}`);
    // English words, as a character model trained on Shakespeare writes them (greedy, so fixed).
    const common = new Set('the and i to of a my you that in is not me it with be his your for this he thou thee what so will have but as shall him her our all do no lord by we are us sir good'.split(' '));
    const words = rest.toLowerCase().match(/[a-z']+/g) ?? [];
    assert.ok(words.filter((w) => common.has(w)).length >= 3, `few common words in ${JSON.stringify(rest)}`);
  });

  for (const example of examples) {
    test(`README example "${example.name}" (README.md:${example.line}) runs as written`, async (t) => {
      if (!installed(t)) return;
      const env = userEnv({ HF_ENDPOINT: hub!.url, HF_HUB_CACHE: join(tmp, 'hf-cache') });
      const file = join(consumer, `${example.name}.${example.lang === 'sh' ? 'sh' : 'mjs'}`);
      await writeFile(file, example.code);
      const r = example.lang === 'sh' ? await run('bash', ['-e', file], consumer, env) : await run(process.execPath, [file], consumer, env);
      t.diagnostic(`${example.name}: ${r.seconds.toFixed(1)} s`);
      assert.equal(r.code, 0, describeExit(`README example "${example.name}" (README.md:${example.line})`, r));
    });
  }
});
