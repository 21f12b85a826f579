/**
 * The package as npm publishes it: what `npm pack` puts in, the license, source maps that carry
 * their sources, the exports map, Dawn as an optional peer, and types that a TypeScript user can
 * compile against without WebGPU's types or Dawn.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { REPO, makeConsumer, type Consumer } from './consumer.js';

const run = promisify(execFile);

interface PackageJson {
  exports: Record<string, string | Record<string, string>>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

let pkg: PackageJson;
let packed: string[];

before(async () => {
  pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as PackageJson;
  // --ignore-scripts: the suite has built dist/ already; `prepare` would build it again.
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO, maxBuffer: 64 << 20 });
  packed = (JSON.parse(stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
});

test('npm pack ships the license, the compiled library, the browser bundle, the playground and the models, not tests or TypeScript sources', () => {
  for (const f of [
    'LICENSE',
    'README.md',
    'package.json',
    'dist/src/index.js',
    'dist/src/index.d.ts',
    'dist/src/index.js.map',
    'dist/src/platform/node/files.js',
    'dist/src/platform/browser/files.js',
    'dist/browser/mamba-ts.js',
    'dist/browser/mamba-ts.js.map',
    'models/mamba-shakespeare/model.safetensors',
    'models/mamba2-shakespeare/model.safetensors',
    'dist/web/index.html',
    'dist/web/main.js',
    'dist/web/worker.js',
    'models/selective-copying-s6/model.safetensors',
    'models/selective-copying-lti/model.safetensors',
    'data/etth1-sample.csv',
  ]) {
    assert.ok(packed.includes(f), `${f} is in the package`);
  }
  const stray = packed.filter((f) => /^(dist\/(test|bench)\/|src\/|test\/|node_modules\/)/.test(f));
  assert.deepEqual(stray, []);
});

test('LICENSE is the Apache License 2.0 text, as package.json says', async () => {
  const text = await readFile(join(REPO, 'LICENSE'), 'utf8');
  assert.match(text, /^Copyright the mamba-ts authors\n/);
  assert.match(text, /Apache License\s+Version 2\.0, January 2004/);
  assert.match(text, /END OF TERMS AND CONDITIONS/);
  assert.equal((JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { license: string }).license, 'Apache-2.0');
});

test('every shipped source map carries the text of each of its sources', async () => {
  const maps = packed.filter((f) => f.endsWith('.js.map'));
  assert.ok(maps.length > 50, `${maps.length} source maps`);
  for (const f of maps) {
    const map = JSON.parse(await readFile(join(REPO, f), 'utf8')) as { sources: string[]; sourcesContent?: (string | null)[] };
    assert.equal(map.sourcesContent?.length, map.sources.length, `${f}: sourcesContent for each of ${map.sources.length} sources`);
    map.sourcesContent!.forEach((s, i) => assert.ok(s, `${f}: no text for ${map.sources[i]}`));
  }
});

test("exports: the library, the prebuilt browser bundle, the Node-only server and ./package.json, each target shipped", () => {
  assert.deepEqual(Object.keys(pkg.exports), ['.', './browser', './serve', './package.json']);
  const targets = Object.values(pkg.exports).flatMap((e) => (typeof e === 'string' ? [e] : Object.values(e)));
  for (const t of targets) {
    const path = t.replace(/^\.\//, '');
    assert.ok(packed.includes(path), `${t} is in the package`);
    assert.ok(existsSync(resolve(REPO, path)), `${t} exists`);
  }
});

test('Dawn (webgpu) is an optional peer: not installed for CPU-only or browser users, installed here for the tests', () => {
  assert.equal(pkg.dependencies?.['webgpu'], undefined, 'webgpu is not a dependency');
  assert.ok(pkg.peerDependencies?.['webgpu'], 'webgpu is a peer dependency');
  assert.equal(pkg.peerDependenciesMeta?.['webgpu']?.optional, true, 'an optional one');
  assert.equal(pkg.devDependencies?.['webgpu'], pkg.peerDependencies?.['webgpu'], 'the tests use the version users are told to install');
});

let consumer: Consumer;
before(async () => {
  consumer = await makeConsumer();
});
after(async () => {
  await consumer?.dispose();
});

test('a TypeScript project type-checks against the package without WebGPU types, under NodeNext and bundler resolution', async () => {
  await writeFile(
    join(consumer.dir, 'use.ts'),
    `import { AutoModelForCausalLM, AutoTokenizer, folderFromFiles, getBackend, type MemoryFolder } from 'mamba-ts';
const folder: MemoryFolder = folderFromFiles({ 'config.json': new ArrayBuffer(2) });
const model = await AutoModelForCausalLM.fromPretrained(folder.path, { device: 'auto' });
const tokenizer = await AutoTokenizer.fromPretrained('models/x');
const ids: number[][] = await model.generate([tokenizer.encode('hi')], { maxNewTokens: 2 });
export const used = [ids, getBackend().name];
`,
  );
  const tsc = resolve(REPO, 'node_modules/typescript/bin/tsc');
  for (const [module, resolution] of [['NodeNext', 'NodeNext'], ['ESNext', 'Bundler']]) {
    const config = {
      // No skipLibCheck and no automatic types: every declaration the package exposes is checked.
      compilerOptions: { target: 'ES2022', lib: ['ES2022', 'DOM'], module, moduleResolution: resolution, strict: true, noEmit: true, types: [] },
      files: ['use.ts'],
    };
    await writeFile(join(consumer.dir, 'tsconfig.json'), JSON.stringify(config));
    const result = await run(process.execPath, [tsc, '-p', consumer.dir], { cwd: consumer.dir }).then(
      () => '',
      (e: { stdout?: string; message: string }) => e.stdout || e.message,
    );
    assert.equal(result, '', `tsc (${resolution} resolution) on a user's file`);
  }
});
