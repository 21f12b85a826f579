/**
 * A user's web page in a project made by consumer.ts: test/browser-page/page.js, which imports
 * 'mamba-ts'. It is bundled with esbuild (platform browser, nothing external) and built with Vite,
 * and a third copy loads the prebuilt dist/browser/mamba-ts.js through an import map, with no
 * bundler at all.
 */
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { build as esbuild } from 'esbuild';
import { build as viteBuild, createLogger } from 'vite';
import { REPO, type Consumer } from './consumer.js';

const PAGE_SOURCE = resolve(REPO, 'test/browser-page/page.js');
const PREBUILT = resolve(REPO, 'dist/browser');

const html = (head = '') => `<!doctype html>
<html>
<head><meta charset="utf-8"><title>mamba-ts browser check</title>${head}</head>
<body><script type="module" src="./page.js"></script></body>
</html>
`;

/** Puts the page (page.js and the index.html that loads it) into the project. */
export async function addPage(c: Consumer): Promise<void> {
  await writeFile(join(c.dir, 'page.js'), await readFile(PAGE_SOURCE));
  await writeFile(join(c.dir, 'index.html'), html());
}

export interface BundleResult {
  /** The folder to serve: index.html, the page's JavaScript and whatever else the build made. */
  outDir: string;
  /** Every warning the bundler gave (none is expected). */
  warnings: string[];
  /** The JavaScript files written, with their text. */
  scripts: { file: string; code: string }[];
  /** The source files the bundle took in, relative to the file system (esbuild only). */
  inputs: string[];
}

async function scriptsIn(dir: string): Promise<{ file: string; code: string }[]> {
  const entries = await readdir(dir, { recursive: true });
  const js = entries.filter((f) => f.endsWith('.js')).map((f) => join(dir, f));
  return Promise.all(js.map(async (file) => ({ file, code: await readFile(file, 'utf8') })));
}

/** esbuild's JS API, as `esbuild page.js --bundle --platform=browser --format=esm`. */
export async function bundleWithEsbuild(c: Consumer): Promise<BundleResult> {
  const outDir = join(c.dir, 'esbuild-dist');
  const result = await esbuild({
    absWorkingDir: c.dir,
    entryPoints: ['page.js'],
    outdir: outDir,
    bundle: true,
    platform: 'browser',
    format: 'esm',
    logLevel: 'silent',
    metafile: true,
  });
  await writeFile(join(outDir, 'index.html'), html());
  return {
    outDir,
    warnings: result.warnings.map((w) => `${w.location?.file ?? ''}: ${w.text}`),
    scripts: await scriptsIn(outDir),
    inputs: Object.keys(result.metafile.inputs),
  };
}

/** Vite's production build of index.html, with a logger that collects every warning. */
export async function bundleWithVite(c: Consumer): Promise<BundleResult> {
  const outDir = join(c.dir, 'vite-dist');
  const warnings: string[] = [];
  const logger = createLogger('warn', { allowClearScreen: false });
  logger.warn = (msg) => void warnings.push(msg);
  logger.warnOnce = (msg) => void warnings.push(msg);
  logger.info = () => {};
  await viteBuild({
    root: c.dir,
    configFile: false,
    envDir: false,
    base: './',
    customLogger: logger,
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true, reportCompressedSize: false, chunkSizeWarningLimit: 4096 },
  });
  return { outDir, warnings, scripts: await scriptsIn(outDir), inputs: [] };
}

/** No bundler: the page as written, 'mamba-ts' mapped by an import map to the prebuilt bundle. */
export async function pageWithPrebuiltBundle(c: Consumer): Promise<BundleResult> {
  const outDir = join(c.dir, 'prebuilt');
  await mkdir(outDir);
  await cp(PREBUILT, outDir, { recursive: true });
  await writeFile(join(outDir, 'page.js'), await readFile(PAGE_SOURCE));
  await writeFile(join(outDir, 'index.html'), html('\n<script type="importmap">{"imports":{"mamba-ts":"./mamba-ts.js"}}</script>'));
  return { outDir, warnings: [], scripts: await scriptsIn(outDir), inputs: [] };
}

/**
 * What in a bundle still reaches for Node: `node:` specifiers in imports, requires of Node's
 * modules, Vite's stand-in for an externalised Node module, or the Node twin of the WebGPU entry
 * (its Dawn flags).
 */
export function nodeOnlyReferences(code: string): string[] {
  const patterns = [
    /\b(?:from|import)\s*\(?\s*["']node:[^"']*["']/g,
    /\brequire\(\s*["'](?:node:)?(?:fs|path|os|url|crypto|http|https|child_process|worker_threads|module|fs\/promises)["']\s*\)/g,
    /__vite-browser-external/g,
    /\bimport\(\s*["']webgpu["']\s*\)/g,
    /enable-dawn-features/g,
  ];
  return patterns.flatMap((p) => [...code.matchAll(p)].map((m) => m[0]));
}
