/**
 * Bundles the compiled library (dist/src/index.js, from `npm run build`) into one minified ES module
 * for pages without a bundler: dist/browser/mamba-ts.js, shipped as `mamba-ts/browser` and
 * loadable with <script type="module"> or an import map (a CDN serves it as a plain file). Users
 * with a bundler import 'mamba-ts' instead and bundle it themselves.
 *
 * esbuild's browser platform selects the browser twins of src/platform through package.json's
 * `imports` conditions, so no Node-only module is reachable and nothing is marked external; a
 * warning or a surviving `node:` import fails the build. The banner names the license of every
 * package bundled in (a first pass finds them).
 */
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = resolve(root, 'dist/browser/mamba-ts.js');
const options = {
  absWorkingDir: root,
  entryPoints: ['dist/src/index.js'],
  outfile,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: true, // with the TypeScript sources embedded: tsc's maps carry them (inlineSources)
  legalComments: 'eof',
  logLevel: 'warning',
  metafile: true,
};

/** "name version (license)" of each npm package the bundle takes code from. */
function bundledPackages(metafile) {
  const dirs = new Set();
  for (const input of Object.keys(metafile.inputs)) {
    const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) dirs.add(m[1]);
  }
  return [...dirs].map((d) => {
    const p = JSON.parse(readFileSync(resolve(root, d, 'package.json'), 'utf8'));
    return `${p.name} ${p.version} (${p.license})`;
  });
}

const probe = await build({ ...options, write: false, logLevel: 'silent' });
const { version, license } = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8'));
const banner = `/*! mamba-ts ${version} (${license}); includes ${bundledPackages(probe.metafile).join(', ') || 'no other package'} */`;

const result = await build({ ...options, banner: { js: banner } });
if (result.warnings.length > 0) throw new Error(`bundling for the browser gave ${result.warnings.length} warning(s); see above`);
const nodeOnly = /\bfrom\s*["']node:|\bimport\(\s*["']node:|\brequire\(\s*["'](node:|fs["']|path["'])/.exec(readFileSync(outfile, 'utf8'));
if (nodeOnly) throw new Error(`${outfile} still imports a Node-only module: ${nodeOnly[0]}`);
const bytes = Object.values(result.metafile.outputs).find((o) => o.entryPoint)?.bytes ?? 0;
console.log(`bundled ${outfile} (${(bytes / 1024).toFixed(0)} KiB)`);
