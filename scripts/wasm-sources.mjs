/**
 * What the WebAssembly kernels are built from (see build-wasm.mjs): the compiler flags of each
 * build and the hash over compiler version, flags and sources that kernels-binary.ts records, so
 * that a test can tell a stale committed binary without running the compiler.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const wasmDir = join(root, 'src/backend/cpu/wasm');
export const compilerVersion = JSON.parse(readFileSync(join(root, 'node_modules/assemblyscript/package.json'), 'utf8')).version;

export const COMMON_FLAGS = [
  '-O3',
  '--noAssert',
  '--runtime', 'stub',
  '--use', 'abort=',
  '--importMemory',
  '--noExportMemory',
  '--sharedMemory',
  '--initialMemory', '1',
  '--maximumMemory', '65536',
  '--enable', 'simd',
  '--enable', 'threads',
];
export const VARIANTS = [
  { name: 'KERNELS_SIMD', flags: [] },
  { name: 'KERNELS_RELAXED_SIMD', flags: ['--enable', 'relaxed-simd'] },
];

/** The inputs of the build, in a fixed order: layout.ts and everything in assembly/. */
function sourceFiles() {
  const dir = join(wasmDir, 'assembly');
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts') || f.endsWith('.json')).map((f) => join(dir, f));
  return [join(wasmDir, 'layout.ts'), ...files.sort()];
}

/** sha256 over the compiler version, the flags and every source file (path and contents). */
export function sourceHash() {
  const h = createHash('sha256');
  h.update(`assemblyscript ${compilerVersion}\n${JSON.stringify([COMMON_FLAGS, VARIANTS])}\n`);
  for (const f of sourceFiles()) h.update(`${relative(wasmDir, f).split('\\').join('/')}\n`).update(readFileSync(f)).update('\n');
  return h.digest('hex');
}
