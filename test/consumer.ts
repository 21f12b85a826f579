/**
 * A user's project, made in a temporary folder: its node_modules/mamba-ts is a link to this
 * repository, so package.json's `exports` and `imports` conditions apply exactly as they would to
 * an installed copy (Node, bundlers and TypeScript all follow the link to the real path).
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (tests run from dist/test/). */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface Consumer {
  dir: string;
  dispose(): Promise<void>;
}

/** An empty ESM project (package.json, node_modules/mamba-ts → this repository). */
export async function makeConsumer(): Promise<Consumer> {
  const dir = await mkdtemp(join(tmpdir(), 'mamba-ts-consumer-'));
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  await mkdir(join(dir, 'node_modules'));
  await symlink(REPO, join(dir, 'node_modules', 'mamba-ts'), 'dir');
  return { dir, dispose: () => rm(dir, { recursive: true, force: true }) };
}
