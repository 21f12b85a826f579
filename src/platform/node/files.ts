/**
 * Local files in Node.js, through node:fs. Twin of ../browser/files.ts; library code reaches it as
 * `#platform/files.js` (see ../README.md: package.json's `imports` picks the twin), usually through
 * src/io/platform.ts, which also handles URLs and in-memory folders.
 */
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/** A file: URL (e.g. a file shipped in the package, found through import.meta.url) as fs takes it. */
function asFsPath(p: string): string | URL {
  return p.startsWith('file:') ? new URL(p) : p;
}

/** Reads a whole file (a path or a file: URL); a missing file or a folder gives an error naming the path. */
export async function readLocalBytes(p: string): Promise<Uint8Array> {
  try {
    const buf = await readFile(asFsPath(p));
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOENT') throw new Error(`${p}: no such file`);
    if (code === 'EISDIR') throw new Error(`${p}: is a folder, expected a file`);
    throw e;
  }
}

export async function localExists(p: string): Promise<boolean> {
  try {
    await stat(asFsPath(p));
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes a file atomically: the bytes go to a temporary file in the same folder, which is synced and
 * then renamed over the target, so a crash never leaves a half-written file under the real name.
 */
export async function writeLocalAtomic(p: string, data: Uint8Array | string): Promise<void> {
  await mkdir(dirname(p), { recursive: true });
  const tmp = `${p}.tmp-${process.pid}-${Date.now()}`;
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, p);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

export async function makeLocalDir(p: string): Promise<void> {
  await mkdir(p, { recursive: true });
}

/**
 * Puts the finished folder `tmp` in place of `dir`: the old folder is renamed aside first and removed
 * only after the new one is in place, so a crash leaves either the old checkpoint (possibly under
 * `<dir>.old-…`) or the new one, never a half-written one.
 */
export async function replaceLocalDir(tmp: string, dir: string): Promise<void> {
  const old = `${dir}.old-${process.pid}-${Date.now()}`;
  const had = await localExists(dir);
  if (had) await rename(dir, old);
  await rename(tmp, dir);
  if (had) await rm(old, { recursive: true, force: true });
}

/** Removes a file if present. */
export async function removeLocalFile(p: string): Promise<void> {
  await rm(p, { force: true });
}
