/**
 * Run after tsc: makes the package's bins executable. npm links a bin as it is, so a bin without
 * its execute bit fails with "Permission denied" wherever npm runs it directly (npx in the
 * package's own folder); tsc never sets that bit.
 */
import { chmodSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8'));
for (const bin of Object.values(pkg.bin ?? {})) chmodSync(resolve(root, bin), 0o755);
