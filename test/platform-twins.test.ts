/**
 * src/platform: every Node twin has a browser twin with the same exports (package.json's `imports`
 * maps `#platform/<name>.js` to one or the other), the browser twins do what a browser can and say
 * clearly what it cannot, and WebGPU without Dawn installed says how to install it.
 */
import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import * as browserFiles from '../src/platform/browser/files.js';
import * as browserGpu from '../src/platform/browser/gpu.js';
import { UnsupportedError } from '../src/errors.js';
import { REPO } from './consumer.js';
import { fixture } from './helpers.js';
import { startStaticServer } from './static-server.js';

const PLATFORM = resolve(REPO, 'dist/src/platform');

test('every Node twin in src/platform has a browser twin exporting the same names', async () => {
  const nodeFiles = (await readdir(join(PLATFORM, 'node'))).filter((f) => f.endsWith('.js'));
  const browserFileNames = (await readdir(join(PLATFORM, 'browser'))).filter((f) => f.endsWith('.js'));
  assert.ok(nodeFiles.length >= 2, 'node twins found');
  assert.deepEqual(browserFileNames.sort(), [...nodeFiles].sort(), 'the two folders hold the same module names');
  for (const f of nodeFiles) {
    const [n, b] = await Promise.all([import(pathToFileURL(join(PLATFORM, 'node', f)).href), import(pathToFileURL(join(PLATFORM, 'browser', f)).href)]);
    assert.deepEqual(Object.keys(b as object).sort(), Object.keys(n as object).sort(), `exports of platform/browser/${f} and platform/node/${f}`);
  }
});

test("package.json maps #platform/* to the browser twins for browsers and anything not Node, to the Node twins for Node", async () => {
  const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { imports: Record<string, Record<string, string>> };
  const entry = pkg.imports['#platform/*'];
  assert.ok(entry, 'package.json imports has #platform/*');
  assert.deepEqual(Object.keys(entry), ['browser', 'node', 'default'], 'browser first, and anything that is not Node gets the browser twin');
  assert.equal(entry['browser'], './dist/src/platform/browser/*');
  assert.equal(entry['node'], './dist/src/platform/node/*');
  assert.equal(entry['default'], './dist/src/platform/browser/*');
});

test('the browser twin of platform/files reads over HTTP and refuses every write with the reason', async () => {
  const dir = fixture('hf', 'mamba-tiny', 'model');
  const server = await startStaticServer({ '/m/': dir });
  try {
    const bytes = await browserFiles.readLocalBytes(`${server.origin}/m/config.json`);
    assert.equal(JSON.parse(new TextDecoder().decode(bytes)).model_type, 'mamba');
    assert.equal(await browserFiles.localExists(`${server.origin}/m/config.json`), true);
    assert.equal(await browserFiles.localExists(`${server.origin}/m/nope.json`), false);
    await assert.rejects(browserFiles.readLocalBytes(`${server.origin}/m/nope.json`), /nope\.json: no such file \(HTTP 404\)/);
  } finally {
    await server.close();
  }
  const refusals: [string, Promise<void>][] = [
    ['writing a file', browserFiles.writeLocalAtomic('out/model.safetensors', new Uint8Array(1))],
    ['making a folder', browserFiles.makeLocalDir('out')],
    ['replacing a folder', browserFiles.replaceLocalDir('out.tmp', 'out')],
    ['removing a file', browserFiles.removeLocalFile('out/x')],
  ];
  for (const [what, p] of refusals) {
    await assert.rejects(p, (e: Error) => e instanceof UnsupportedError && e.message.includes(`${what} is not available in a browser`));
  }
});

test('the browser twin of platform/gpu explains a missing navigator.gpu', async () => {
  assert.equal((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu, undefined, 'Node has no navigator.gpu');
  await assert.rejects(browserGpu.gpuEntry(), (e: Error) => e instanceof UnsupportedError && /no navigator\.gpu/.test(e.message));
});

test("device 'webgpu' in Node without the optional webgpu package says how to install it", async () => {
  // The Node twin and what it imports, copied where no node_modules/webgpu can be found.
  const dir = await mkdtemp(join(tmpdir(), 'mamba-ts-no-dawn-'));
  try {
    await writeFile(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    await cp(join(PLATFORM, 'node', 'gpu.js'), join(dir, 'dist/src/platform/node/gpu.js'));
    await cp(join(REPO, 'dist/src/errors.js'), join(dir, 'dist/src/errors.js'));
    await cp(join(REPO, 'dist/src/backend/webgpu/dawn-flags.js'), join(dir, 'dist/src/backend/webgpu/dawn-flags.js'));
    await cp(join(REPO, 'dist/src/env.js'), join(dir, 'dist/src/env.js'));
    const twin = (await import(pathToFileURL(join(dir, 'dist/src/platform/node/gpu.js')).href)) as typeof import('../src/platform/node/gpu.js');
    await assert.rejects(
      twin.gpuEntry(),
      (e: Error) => e.name === 'UnsupportedError' && e.message.includes("optional 'webgpu' package") && e.message.includes('npm install webgpu'),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
