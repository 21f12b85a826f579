/**
 * Bundles the compiled library (dist/src/index.js, from `npm run build`) into one ES module for
 * browsers: dist/browser/mamba-ts.js. Node-only modules (node:*, and 'webgpu' — Dawn for Node) are
 * imported dynamically behind runtime checks in the library, so they stay external and are never
 * loaded in a browser. So does the library's own Node-only file, src/io/hub-cache.ts (HuggingFace's
 * cache on disk, through @huggingface/hub's Node build): in a browser a Hub id becomes a URL instead.
 */
import { build } from 'esbuild';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = resolve(root, 'dist/browser/mamba-ts.js');

const result = await build({
  entryPoints: [resolve(root, 'dist/src/index.js')],
  outfile,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  external: ['webgpu', 'node:*', resolve(root, 'dist/src/io/hub-cache.js')],
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
});
const bytes = Object.values(result.metafile.outputs).find((o) => o.entryPoint)?.bytes ?? 0;
console.log(`bundled ${outfile} (${(bytes / 1024).toFixed(0)} KiB)`);
