/**
 * Run before tsc: removes the compiled library, tests and benchmarks, so a source file that was
 * deleted or moved leaves no stale .js behind to be packed and shipped (tsc never deletes outputs).
 */
import { rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = resolve(dirname(fileURLToPath(import.meta.url)), '../dist');
for (const part of ['src', 'test', 'bench']) rmSync(resolve(dist, part), { recursive: true, force: true });
