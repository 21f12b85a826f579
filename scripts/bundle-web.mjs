/**
 * Builds the playground (web/) into dist/web/: the page (main.js) and the compute worker
 * (worker.js), each one minified ES module bundled by esbuild from web/src with the compiled
 * library (dist/src, from `npm run build`) and uPlot, plus index.html and the CSS. Static files:
 * `mamba-ts playground` serves them with the shipped models, and any static host can.
 *
 * The browser platform picks the browser twins of src/platform through package.json's `imports`
 * conditions; a warning or a surviving `node:` import fails the build, as for dist/browser.
 * Prints the size of each file and the total, which docs/playground.md reports.
 */
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = resolve(root, 'dist/web');
if (!statSync(resolve(root, 'dist/src/index.js'), { throwIfNoEntry: false })) throw new Error('dist/src/index.js not found: run npm run build first');

rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { main: 'web/src/main.ts', worker: 'web/src/worker.ts' },
  outdir,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: 'linked',
  legalComments: 'eof',
  logLevel: 'warning',
  metafile: true,
});
if (result.warnings.length > 0) throw new Error(`bundling the playground gave ${result.warnings.length} warning(s); see above`);
for (const f of ['main.js', 'worker.js']) {
  const nodeOnly = /\bfrom\s*["']node:|\bimport\(\s*["']node:|\brequire\(\s*["'](node:|fs["']|path["'])/.exec(readFileSync(resolve(outdir, f), 'utf8'));
  if (nodeOnly) throw new Error(`dist/web/${f} still imports a Node-only module: ${nodeOnly[0]}`);
}
copyFileSync(resolve(root, 'web/index.html'), resolve(outdir, 'index.html'));
copyFileSync(resolve(root, 'web/style.css'), resolve(outdir, 'style.css'));
copyFileSync(resolve(root, 'node_modules/uplot/dist/uPlot.min.css'), resolve(outdir, 'uPlot.min.css'));

const files = ['index.html', 'style.css', 'uPlot.min.css', 'main.js', 'worker.js'];
const kib = (n) => `${(n / 1024).toFixed(0)} KiB`;
const sizes = files.map((f) => [f, statSync(resolve(outdir, f)).size]);
console.log(`bundled dist/web: ${sizes.map(([f, n]) => `${f} ${kib(n)}`).join(', ')}; total ${kib(sizes.reduce((s, [, n]) => s + n, 0))} (source maps not counted)`);
