/**
 * The committed WebAssembly kernels (src/backend/cpu/wasm/kernels-binary.ts) are built from the
 * sources in the repository. This test compares hashes only (no compiler run): the sources' hash
 * recorded at build time against the sources now. CI also rebuilds the binaries and compares them
 * byte for byte (.ci/run: npm run build:wasm -- --check), which the deterministic build allows.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { KERNELS_RELAXED_SIMD, KERNELS_SIMD, SOURCE_HASH } from '../src/backend/cpu/wasm/kernels-binary.js';
import { forUnsharedMemory, kernelBinary } from '../src/backend/cpu/wasm/module.js';
import { REPO } from './consumer.js';

test('kernels-binary.ts was built from the AssemblyScript sources as they are now', async () => {
  const sources = (await import(pathToFileURL(join(REPO, 'scripts/wasm-sources.mjs')).href)) as { sourceHash(): string };
  assert.equal(SOURCE_HASH, sources.sourceHash(), 'the kernels are stale: run `npm run build:wasm` and commit src/backend/cpu/wasm/kernels-binary.ts');
});

test('the SIMD build validates here and imports only a shared memory; its unshared form validates too', () => {
  const simd = kernelBinary('simd');
  assert.ok(simd, 'this Node has WebAssembly SIMD');
  assert.equal(simd.variant, 'simd');
  const imports = WebAssembly.Module.imports(new WebAssembly.Module(simd.bytes));
  assert.deepEqual(imports, [{ module: 'env', name: 'memory', kind: 'memory' }]);
  const unshared = forUnsharedMemory(simd.bytes);
  assert.ok(WebAssembly.validate(unshared));
  // The unshared form links against a plain memory, the shared one does not.
  new WebAssembly.Instance(new WebAssembly.Module(unshared), { env: { memory: new WebAssembly.Memory({ initial: 2, maximum: 16 }) } });
  assert.throws(() => new WebAssembly.Instance(new WebAssembly.Module(simd.bytes), { env: { memory: new WebAssembly.Memory({ initial: 2, maximum: 16 }) } }));
});

test('the relaxed-SIMD build is chosen exactly where the engine validates it', () => {
  const relaxedValid = WebAssembly.validate(Uint8Array.from(atob(KERNELS_RELAXED_SIMD), (c) => c.charCodeAt(0)));
  assert.equal(kernelBinary()?.variant, relaxedValid ? 'relaxed-simd' : 'simd');
  assert.ok(KERNELS_SIMD.length > 1000 && KERNELS_RELAXED_SIMD.length > 1000);
});
