/**
 * The one place that touches Node-only modules. Everything else reads and writes through these
 * functions so that the library also runs in browsers, where a "path" is a URL and writing is not
 * available.
 */

const isNode = typeof process !== 'undefined' && process.versions?.node !== undefined;

type NodeFs = typeof import('node:fs/promises');
type NodePath = typeof import('node:path');
let fsMod: NodeFs | undefined;
let pathMod: NodePath | undefined;

async function fs(): Promise<NodeFs> {
  if (!isNode) throw new Error('file system access is only available in Node.js; pass a URL in the browser');
  fsMod ??= await import('node:fs/promises');
  return fsMod;
}
async function nodePath(): Promise<NodePath> {
  pathMod ??= await import('node:path');
  return pathMod;
}

function isUrl(p: string): boolean {
  return /^(https?|blob|data):/.test(p) || (!isNode && !p.startsWith('/'));
}

/** A file: URL (e.g. a file shipped in the package, found through import.meta.url) as fs takes it. */
function asFsPath(p: string): string | URL {
  return p.startsWith('file:') ? new URL(p) : p;
}

/** Joins a folder (path or URL) and a file name. */
export function joinPath(dir: string, name: string): string {
  if (dir.endsWith('/')) return dir + name;
  return `${dir}/${name}`;
}

/** Reads a whole file (Node path) or URL (browser, or http(s) in Node) as bytes. */
export async function readBytes(p: string): Promise<Uint8Array> {
  if (isUrl(p)) {
    const res = await fetch(p);
    if (!res.ok) throw new Error(`${p}: HTTP ${res.status} ${res.statusText}`);
    return new Uint8Array(await res.arrayBuffer());
  }
  const f = await fs();
  try {
    const buf = await f.readFile(asFsPath(p));
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOENT') throw new Error(`${p}: no such file`);
    if (code === 'EISDIR') throw new Error(`${p}: is a folder, expected a file`);
    throw e;
  }
}

export async function readText(p: string): Promise<string> {
  return new TextDecoder().decode(await readBytes(p));
}

/** True when the file exists (Node) or the URL answers (browser). */
export async function exists(p: string): Promise<boolean> {
  if (isUrl(p)) {
    try {
      const res = await fetch(p, { method: 'HEAD' });
      return res.ok;
    } catch {
      return false;
    }
  }
  const f = await fs();
  try {
    await f.stat(asFsPath(p));
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes a file atomically: the bytes go to a temporary file in the same folder, which is synced and
 * then renamed over the target, so a crash never leaves a half-written file under the real name.
 */
export async function writeBytesAtomic(p: string, data: Uint8Array | string): Promise<void> {
  const f = await fs();
  const path = await nodePath();
  await f.mkdir(path.dirname(p), { recursive: true });
  const tmp = `${p}.tmp-${process.pid}-${Date.now()}`;
  const handle = await f.open(tmp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await f.rename(tmp, p);
  } catch (e) {
    await f.rm(tmp, { force: true });
    throw e;
  }
}

export async function makeDir(p: string): Promise<void> {
  const f = await fs();
  await f.mkdir(p, { recursive: true });
}

/**
 * Puts the finished folder `tmp` in place of `dir`: the old folder is renamed aside first and removed
 * only after the new one is in place, so a crash leaves either the old checkpoint (possibly under
 * `<dir>.old-…`) or the new one, never a half-written one.
 */
export async function replaceDir(tmp: string, dir: string): Promise<void> {
  const f = await fs();
  const old = `${dir}.old-${process.pid}-${Date.now()}`;
  const had = await exists(dir);
  if (had) await f.rename(dir, old);
  await f.rename(tmp, dir);
  if (had) await f.rm(old, { recursive: true, force: true });
}
