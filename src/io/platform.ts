/**
 * Reading and writing files, wherever the library runs. Everything else reads and writes through
 * these functions. A "path" is one of:
 * - a URL (http:, https:, blob:, data:), read with fetch in Node and browsers alike;
 * - a `memory://` folder made by folderFromFiles (File objects or ArrayBuffers);
 * - a local path: a file in Node; in a browser, a URL relative to the page.
 * Local paths go to the platform twin `#platform/files.js` (src/platform/node/files.ts or
 * src/platform/browser/files.ts, picked by package.json's `imports` conditions; see
 * src/platform/README.md), so no Node-only module is reachable from the browser build.
 */
import { UnsupportedError } from '../errors.js';
import {
  localExists,
  makeLocalDir,
  readLocalBytes,
  removeLocalFile,
  replaceLocalDir,
  writeLocalAtomic,
} from '#platform/files.js';
import { fetchBytes, urlExists } from './fetch-bytes.js';
import { isMemoryPath, memoryExists, readMemoryBytes } from './memory-folder.js';
import type { ReadOptions } from './read-options.js';

export type { ReadOptions } from './read-options.js';

function isUrl(p: string): boolean {
  return /^(https?|blob|data):/i.test(p);
}

/** Joins a folder (path or URL) and a file name. */
export function joinPath(dir: string, name: string): string {
  if (dir.endsWith('/')) return dir + name;
  return `${dir}/${name}`;
}

/**
 * Reads a whole file as bytes. Local files must be regular files (links to them are followed; a
 * folder, FIFO, device or socket is refused without blocking), and a file that changes size while
 * read is an error. With `maxBytes`, a larger file is refused before it is read (a URL without a
 * Content-Length is stopped at the cap), the message naming the path, the size and the cap.
 */
export async function readBytes(p: string, o?: ReadOptions): Promise<Uint8Array> {
  if (isMemoryPath(p)) return readMemoryBytes(p, o);
  if (isUrl(p)) return fetchBytes(p, o);
  return readLocalBytes(p, o);
}

/** Reads a whole file as UTF-8 text, as readBytes reads it. */
export async function readText(p: string, o?: ReadOptions): Promise<string> {
  return new TextDecoder().decode(await readBytes(p, o));
}

/** True when the file exists (or the URL answers a HEAD request). */
export async function exists(p: string): Promise<boolean> {
  if (isMemoryPath(p)) return memoryExists(p);
  if (isUrl(p)) return urlExists(p);
  return localExists(p);
}

/** Writing goes to local files only (Node); URLs and in-memory folders are read-only. */
function writable(p: string): void {
  if (isUrl(p) || isMemoryPath(p)) throw new UnsupportedError(`${p}: cannot write here; saving needs a local path in Node.js`);
}

/**
 * Writes a file atomically (a temporary file, synced, then renamed over the target), so a crash
 * never leaves a half-written file under the real name. Node only.
 */
export async function writeBytesAtomic(p: string, data: Uint8Array | string): Promise<void> {
  writable(p);
  await writeLocalAtomic(p, data);
}

export async function makeDir(p: string): Promise<void> {
  writable(p);
  await makeLocalDir(p);
}

/**
 * Puts the finished folder `tmp` in place of `dir`, so that a crash leaves either the old folder
 * or the new one, never a half-written one. Node only.
 */
export async function replaceDir(tmp: string, dir: string): Promise<void> {
  writable(dir);
  await replaceLocalDir(tmp, dir);
}

/** Removes a file if present. Node only. */
export async function removeFile(p: string): Promise<void> {
  writable(p);
  await removeLocalFile(p);
}
