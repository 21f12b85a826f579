/**
 * The package in browsers. A user's project (test/browser-bundles.ts) imports 'mamba-ts' by name and
 * is bundled with esbuild (platform browser, nothing external) and with Vite; a third page uses
 * the prebuilt dist/browser/mamba-ts.js through an import map. No bundle may reach a Node-only
 * module: package.json's `imports` conditions must have swapped in the browser twins of
 * src/platform. These checks need no browser.
 *
 * Then one headless Chromium (driven by playwright-core) opens each page from a 127.0.0.1 server
 * and runs mamba-tiny, loaded over HTTP or from File objects, on the CPU and on WebGPU (logits
 * within 1e-4 × max|ref| of HuggingFace's; greedy generation through the cache equal to HF's), and
 * the bundled Shakespeare model greedily on the CPU, which must give Node's tokens. (On WebGPU the
 * bundled model is left out: SwiftShader takes several seconds for its prefill; mamba-tiny covers the
 * same kernels.) Without Chromium this part is skipped with the reason (set CHROMIUM_PATH, or
 * install Debian's chromium); under CI (CI=true) it fails instead.
 *
 * On the CPU the pages run the WebAssembly kernels: on one thread over an unshared memory where the
 * page is not cross-origin isolated (the esbuild and Vite pages), and on Web Workers over a shared
 * memory where it is (the prebuilt bundle's page, served with COOP/COEP headers).
 *
 * Headless Chromium has no GPU here; with --enable-unsafe-webgpu (WebGPU is otherwise off on Linux)
 * it gives a WebGPU adapter on SwiftShader, its bundled software Vulkan driver (vendor 'google',
 * architecture 'swiftshader'). Adding --enable-features=Vulkan, --use-vulkan=native,
 * --use-angle=vulkan, --ignore-gpu-blocklist or --headless=new changes nothing: the adapter is
 * still SwiftShader, never Mesa's lavapipe. Pages are served from http://127.0.0.1, a secure
 * context; `navigator.gpu` is absent on about:blank. Chromium rounds adapter limits down to privacy
 * tiers (SwiftShader's storage buffers per stage show as 10); every kernel binds at most 8,
 * WebGPU's default, so no limit needs raising.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import { AutoModelForCausalLM } from '../src/models/auto.js';
import { AutoTokenizer } from '../src/io/tokenizer.js';
import { SafetensorsFile } from '../src/io/safetensors.js';
import { addPage, bundleWithEsbuild, bundleWithVite, nodeOnlyReferences, pageWithPrebuiltBundle, type BundleResult } from './browser-bundles.js';
import { REPO, makeConsumer, type Consumer } from './consumer.js';
import { missingExternal } from './external.js';
import { CHROMIUM_ARGS, findChromium } from './chromium.js';
import { assertClose, fixture } from './helpers.js';
import { startStaticServer } from './static-server.js';

const TINY = fixture('hf', 'mamba-tiny');
const SHAKESPEARE = resolve(REPO, 'models/mamba-shakespeare');
const PROMPT = 'ROMEO:';
const NEW_TOKENS = 12;

let consumer: Consumer;
let bundles: Record<'esbuild' | 'vite' | 'prebuilt', BundleResult>;

before(async () => {
  consumer = await makeConsumer();
  await addPage(consumer);
  const [esbuilt, vite] = await Promise.all([bundleWithEsbuild(consumer), bundleWithVite(consumer)]);
  assert.ok(existsSync(resolve(REPO, 'dist/browser/mamba-ts.js')), 'dist/browser/mamba-ts.js not found: run npm run build:browser');
  bundles = { esbuild: esbuilt, vite, prebuilt: await pageWithPrebuiltBundle(consumer) };
});
after(async () => {
  await consumer?.dispose();
});

function assertBrowserOnly(b: BundleResult): void {
  assert.deepEqual(b.warnings, [], 'bundler warnings');
  assert.ok(b.scripts.length > 0, `no JavaScript in ${b.outDir}`);
  for (const { file, code } of b.scripts) assert.deepEqual(nodeOnlyReferences(code), [], `${file} reaches Node-only code`);
  // The browser twin of platform/files is in, by a message only it has.
  assert.ok(b.scripts.some((s) => s.code.includes('saves only in Node.js')), `${b.outDir}: the browser twin of platform/files is missing`);
}

test('esbuild bundles a page importing mamba-ts for the browser: nothing external, no warnings, no Node module', () => {
  assertBrowserOnly(bundles.esbuild);
  const inputs = bundles.esbuild.inputs;
  assert.ok(inputs.some((f) => f.includes('platform/browser/files.js')), 'the browser twin of platform/files is bundled');
  assert.ok(inputs.some((f) => f.includes('platform/browser/gpu.js')), 'the browser twin of platform/gpu is bundled');
  assert.deepEqual(inputs.filter((f) => f.includes('platform/node/') || f.includes('node_modules/webgpu/')), []);
});

test('Vite builds a page importing mamba-ts: no warnings, no Node module', () => {
  assertBrowserOnly(bundles.vite);
});

test('the prebuilt dist/browser/mamba-ts.js reaches no Node module', () => {
  assertBrowserOnly(bundles.prebuilt);
});

/** Greedy continuation of PROMPT by the bundled model, in this process on the CPU: the reference. */
async function nodeGreedy(): Promise<number[]> {
  const tokenizer = await AutoTokenizer.fromPretrained(SHAKESPEARE);
  const model = await AutoModelForCausalLM.fromPretrained(SHAKESPEARE);
  const ids = tokenizer.encode(PROMPT);
  const out = await model.generate([ids], { maxNewTokens: NEW_TOKENS, eosTokenId: null });
  model.dispose();
  return out[0]!.slice(ids.length);
}

test('Node imports mamba-ts by name from a project (the node conditions) and generates as the library does', async () => {
  const script = `
import { createRequire } from 'node:module';
import { AutoModelForCausalLM, AutoTokenizer } from 'mamba-ts';
const dir = process.argv[2];
const tokenizer = await AutoTokenizer.fromPretrained(dir);
const model = await AutoModelForCausalLM.fromPretrained(dir);
const ids = tokenizer.encode(${JSON.stringify(PROMPT)});
const out = await model.generate([ids], { maxNewTokens: ${NEW_TOKENS}, eosTokenId: null });
const pkg = createRequire(import.meta.url)('mamba-ts/package.json');
console.log(JSON.stringify({ name: pkg.name, ids: out[0].slice(ids.length) }));
`;
  await writeFile(join(consumer.dir, 'node-check.mjs'), script);
  const { stdout } = await promisify(execFile)(process.execPath, ['node-check.mjs', SHAKESPEARE], { cwd: consumer.dir });
  const got = JSON.parse(stdout) as { name: string; ids: number[] };
  assert.equal(got.name, 'mamba-ts');
  assert.deepEqual(got.ids, await nodeGreedy());
});

interface PageResult {
  device: string;
  adapter: string;
  shape: number[];
  logits: number[];
}

/** What test/browser-page/page.js puts on window. */
interface PageApi {
  adapter(): Promise<string | null>;
  forward(modelUrl: string, device: string, ids: number[][]): Promise<PageResult>;
  forwardFromFiles(modelUrl: string, names: string[], device: string, ids: number[][]): Promise<PageResult>;
  generateIds(modelUrl: string, device: string, ids: number[][], maxNewTokens: number): Promise<number[][]>;
  greedy(modelUrl: string, device: string, prompt: string, maxNewTokens: number): Promise<{ ids: number[]; text: string }>;
  cpuKernels(): Promise<{ kernels: string; variant?: string; threads: number; sharedMemory: boolean; reason?: string }>;
}
declare global {
  interface Window {
    mambaPage: PageApi;
    mambaReady?: boolean;
  }
}

/** An open page and the errors it reported, which every failure message carries. */
class OpenPage {
  readonly problems: string[] = [];
  constructor(readonly page: Page) {
    page.on('pageerror', (e) => this.problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') this.problems.push(`console: ${m.text()}`);
    });
  }

  /** Runs fn in the page (playwright sends its source; it can use only its argument and window). */
  async run<R, A>(fn: (arg: A) => Promise<R>, arg: A): Promise<R> {
    return this.page.evaluate(fn as (arg: unknown) => Promise<R>, arg as unknown).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}\n${this.problems.join('\n')}`);
    }) as Promise<R>;
  }
}

test('in headless Chromium: the pages run mamba-tiny (HTTP, File objects) on the CPU and WebGPU, and the bundled model on the CPU', { timeout: 240_000 }, async (t) => {
  const found = findChromium();
  if ('missing' in found) {
    t.skip(missingExternal('browser tests in Chromium', found.missing));
    return;
  }
  const inputs = JSON.parse(await readFile(resolve(TINY, 'inputs.json'), 'utf8')) as {
    input_ids: number[][];
    prompt_len: number;
    new_tokens: number;
    generated: number[][];
  };
  const expected = SafetensorsFile.parse(new Uint8Array(await readFile(resolve(TINY, 'expected.safetensors'))), 'expected.safetensors');
  const wantLogits = expected.toFloat64('logits');
  const wantGreedy = await nodeGreedy();

  const server = await startStaticServer({
    '/esbuild/': bundles.esbuild.outDir,
    '/vite/': bundles.vite.outDir,
    '/prebuilt/': bundles.prebuilt.outDir,
    '/models/mamba-tiny/': resolve(TINY, 'model'),
    '/models/mamba-shakespeare/': SHAKESPEARE,
  });
  // The prebuilt bundle's page, cross-origin isolated: the CPU kernels get threads.
  const isolated = await startStaticServer({ '/prebuilt/': bundles.prebuilt.outDir, '/models/mamba-shakespeare/': SHAKESPEARE }, { crossOriginIsolated: true });
  const tinyUrl = `${server.origin}/models/mamba-tiny`;
  const shakespeareUrl = `${server.origin}/models/mamba-shakespeare`;
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({ executablePath: found.path, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
    const open = async (name: keyof typeof bundles, origin = server.origin): Promise<OpenPage> => {
      const p = new OpenPage(await browser!.newPage());
      await p.page.goto(`${origin}/${name}/`);
      await p.page
        .waitForFunction(() => window.mambaReady === true, undefined, { timeout: 20_000 })
        .catch((e: unknown) => {
          throw new Error(`the ${name} page did not load: ${(e as Error).message.split('\n')[0]}\n${p.problems.join('\n')}`);
        });
      return p;
    };

    const first = await open('esbuild');
    const adapter = await first.run(() => window.mambaPage.adapter(), null);
    console.log(`# browser: Chromium ${browser.version()}, WebGPU adapter: ${adapter ?? 'none'}`);
    const noGpu = adapter ? false : missingExternal('WebGPU in Chromium', `no adapter (flags ${CHROMIUM_ARGS.join(' ')})`);

    const checkTiny = (p: OpenPage, device: string, fromFiles = false) => async () => {
      const got = fromFiles
        ? await p.run((a) => window.mambaPage.forwardFromFiles(a.url, ['config.json', 'model.safetensors'], a.device, a.ids), { url: tinyUrl, device, ids: inputs.input_ids })
        : await p.run((a) => window.mambaPage.forward(a.url, a.device, a.ids), { url: tinyUrl, device, ids: inputs.input_ids });
      assert.equal(got.device, device);
      assert.deepEqual(got.shape, expected.entry('logits').shape);
      assertClose(`logits (Chromium, ${device})`, got.logits, wantLogits, 1e-4);
    };
    const checkTinyGreedy = (p: OpenPage, device: string) => async () => {
      const prompt = inputs.input_ids.map((r) => r.slice(0, inputs.prompt_len));
      const got = await p.run((a) => window.mambaPage.generateIds(a.url, a.device, a.prompt, a.n), { url: tinyUrl, device, prompt, n: inputs.new_tokens });
      assert.deepEqual(got, inputs.generated, `greedy generation in Chromium on ${device} differs from HF's`);
    };
    const checkGreedy = (p: OpenPage, device: string, url = shakespeareUrl) => async () => {
      const got = await p.run((a) => window.mambaPage.greedy(a.url, a.device, a.prompt, a.n), { url, device, prompt: PROMPT, n: NEW_TOKENS });
      assert.deepEqual(got.ids, wantGreedy, `greedy continuation in Chromium on ${device} (${JSON.stringify(got.text)}) differs from Node's`);
    };

    await t.test('esbuild page: the CPU runs the WebAssembly kernels, on one thread (the page is not cross-origin isolated)', async () => {
      const info = await first.run(() => window.mambaPage.cpuKernels(), null);
      console.log(`# Chromium CPU kernels (not isolated): ${JSON.stringify(info)}`);
      assert.equal(info.kernels, 'wasm', info.reason);
      assert.equal(info.sharedMemory, false);
      assert.equal(info.threads, 1);
    });
    await t.test('esbuild page: mamba-tiny over HTTP on WebGPU matches HF', { skip: noGpu }, checkTiny(first, 'webgpu'));
    await t.test('esbuild page: mamba-tiny over HTTP on the CPU matches HF', checkTiny(first, 'cpu'));
    await t.test('esbuild page: mamba-tiny from File objects on the CPU matches HF', checkTiny(first, 'cpu', true));
    await t.test('esbuild page: mamba-tiny generates greedily as HF does, on WebGPU', { skip: noGpu }, checkTinyGreedy(first, 'webgpu'));
    await t.test('esbuild page: the bundled model generates greedily as in Node, on the CPU', checkGreedy(first, 'cpu'));
    await first.page.close();

    const vite = await open('vite');
    await t.test('Vite page: mamba-tiny over HTTP on WebGPU matches HF', { skip: noGpu }, checkTiny(vite, 'webgpu'));
    await t.test('Vite page: the bundled model generates greedily as in Node, on the CPU', checkGreedy(vite, 'cpu'));
    await vite.page.close();

    const prebuilt = await open('prebuilt');
    await t.test('prebuilt bundle page: mamba-tiny from File objects on WebGPU matches HF', { skip: noGpu }, checkTiny(prebuilt, 'webgpu', true));
    await t.test('prebuilt bundle page: the bundled model generates greedily as in Node, on the CPU', checkGreedy(prebuilt, 'cpu'));
    await prebuilt.page.close();

    const threaded = await open('prebuilt', isolated.origin);
    await t.test('cross-origin isolated page: the CPU kernels run on Web Workers over a shared memory, and give Node\'s tokens', async () => {
      const info = await threaded.run(() => window.mambaPage.cpuKernels(), null);
      console.log(`# Chromium CPU kernels (cross-origin isolated): ${JSON.stringify(info)}`);
      assert.equal(info.kernels, 'wasm', info.reason);
      assert.equal(info.sharedMemory, true);
      const cores = await threaded.page.evaluate(() => navigator.hardwareConcurrency);
      assert.equal(info.threads, Math.max(1, cores));
      await checkGreedy(threaded, 'cpu', `${isolated.origin}/models/mamba-shakespeare`)();
    });
    await threaded.page.close();
  } finally {
    await browser?.close();
    await server.close();
    await isolated.close();
  }
});
