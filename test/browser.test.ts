/**
 * The library in a browser: Debian's Chromium (driven by playwright-core, headless) loads a page
 * that imports the browser bundle (dist/browser/mamba-ts.js, from `npm run build:browser`), loads
 * mamba-tiny over HTTP and runs it on WebGPU (`navigator.gpu`), and the logits must match
 * HuggingFace's within 1e-4 × max|ref|.
 *
 * Headless Chromium has no GPU here; with --enable-unsafe-webgpu (WebGPU is otherwise off on Linux)
 * it gives a WebGPU adapter on SwiftShader, its bundled software Vulkan driver (vendor 'google',
 * architecture 'swiftshader'). Adding --enable-features=Vulkan, --use-vulkan=native,
 * --use-angle=vulkan, --ignore-gpu-blocklist or --headless=new changes nothing: the adapter is
 * still SwiftShader, never Mesa's lavapipe. The page is served from http://127.0.0.1, a secure
 * context; `navigator.gpu` is absent on about:blank.
 *
 * Chromium rounds adapter limits down to privacy tiers (SwiftShader's storage buffers per stage show
 * as 10); every kernel binds at most 8, WebGPU's default, so no limit needs raising.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { SafetensorsFile } from '../src/io/safetensors.js';
import { assertClose, fixture } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--enable-unsafe-webgpu'];
const BUNDLE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../browser');
const FIXTURE_DIR = fixture('hf', 'mamba-tiny');

/** The test page: imports the bundle and exposes one function that loads and runs a model. */
const PAGE = `<!doctype html>
<html>
<head><meta charset="utf-8"><title>mamba-ts browser check</title></head>
<body>
<script type="module">
  import * as mamba from '/mamba-ts.js';
  window.runModel = async (modelUrl, device, ids) => {
    const model = await mamba.AutoModelForCausalLM.fromPretrained(modelUrl, { device });
    try {
      const out = await model.forward(ids, {});
      const logits = Array.from(await out.logits.data());
      const result = {
        device: out.logits.device,
        adapter: out.logits.device === 'webgpu' ? mamba.getBackend('webgpu').adapterInfo : '',
        shape: out.logits.shape,
        logits,
      };
      out.logits.dispose();
      return result;
    } finally {
      model.dispose();
    }
  };
  window.mambaReady = true;
</script>
</body>
</html>
`;

const TYPES: Record<string, string> = {
  '.js': 'text/javascript',
  '.map': 'application/json',
  '.json': 'application/json',
  '.html': 'text/html',
  '.safetensors': 'application/octet-stream',
};

/** Maps a URL path under a prefix to a file inside root; undefined when it would leave root. */
function under(root: string, rest: string): string | undefined {
  const p = resolve(root, '.' + decodeURIComponent(rest));
  return p === root || p.startsWith(root + sep) ? p : undefined;
}

/** Static server on 127.0.0.1 (random port): the page at /, the bundle at /*, the fixture at /fixture/*. */
async function startServer(): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    void (async () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === '/' || path === '/index.html') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(req.method === 'HEAD' ? undefined : PAGE);
        return;
      }
      if (path === '/favicon.ico') {
        res.writeHead(204).end();
        return;
      }
      const file = path.startsWith('/fixture/') ? under(FIXTURE_DIR, path.slice('/fixture'.length)) : under(BUNDLE_DIR, path);
      if (!file || !(await stat(file).then((s) => s.isFile(), () => false))) {
        res.writeHead(404).end();
        return;
      }
      const body = await readFile(file);
      res.writeHead(200, {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'content-length': body.byteLength,
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    })().catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(e));
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', ok);
  });
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

interface PageResult {
  device: string;
  adapter: string;
  shape: number[];
  logits: number[];
}

test('mamba-tiny in headless Chromium on WebGPU matches HF logits within 1e-4 of max|ref|', { timeout: 60_000 }, async () => {
  assert.ok(
    existsSync(CHROMIUM),
    `${CHROMIUM} not found: the browser test needs Debian's chromium package (apt-get install -y chromium; CI's .ci/run installs it)`,
  );
  assert.ok(existsSync(resolve(BUNDLE_DIR, 'mamba-ts.js')), `${BUNDLE_DIR}/mamba-ts.js not found: run npm run build:browser`);
  const inputs = JSON.parse(await readFile(resolve(FIXTURE_DIR, 'inputs.json'), 'utf8')) as { input_ids: number[][] };
  const expected = SafetensorsFile.parse(new Uint8Array(await readFile(resolve(FIXTURE_DIR, 'expected.safetensors'))), 'expected.safetensors');

  const { server, origin } = await startServer();
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    await page.goto(`${origin}/`);
    await page
      .waitForFunction(() => (window as unknown as { mambaReady?: boolean }).mambaReady === true, undefined, { timeout: 15_000 })
      .catch((e: unknown) => {
        throw new Error(`the page did not load the bundle: ${(e as Error).message.split('\n')[0]}\n${problems.join('\n')}`);
      });

    const gpu = await page.evaluate(async () => {
      const a = await navigator.gpu?.requestAdapter();
      return a ? `${a.info.vendor} ${a.info.architecture}` : null;
    });
    assert.ok(gpu, `no WebGPU adapter in headless Chromium (flags ${CHROMIUM_ARGS.join(' ')})\n${problems.join('\n')}`);

    const got = await page
      .evaluate(
        ([url, ids]) =>
          (window as unknown as { runModel(u: string, d: string, i: number[][]): Promise<PageResult> }).runModel(url, 'webgpu', ids),
        [`${origin}/fixture/model`, inputs.input_ids] as const,
      )
      .catch((e: unknown) => {
        throw new Error(`${(e as Error).message}\n${problems.join('\n')}`);
      });
    console.log(`# browser: Chromium ${browser.version()}, WebGPU adapter ${got.adapter || gpu}`);
    assert.equal(got.device, 'webgpu');
    assert.deepEqual(got.shape, expected.entry('logits').shape);
    assertClose('logits (browser, webgpu)', got.logits, expected.toFloat64('logits'), 1e-4);
  } finally {
    await browser?.close();
    server.closeAllConnections();
    await new Promise<void>((ok) => server.close(() => ok()));
  }
});
