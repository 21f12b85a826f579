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
import {
  checkLocalWriteTarget,
  listLocalDir,
  localFolderBytes,
  localFreeBytes,
  makeLocalTempDir,
  removeLocalDir,
  removeStaleLocalTemps,
  renameLocal,
  temporaryName,
  type WriteTargetKind,
} from '#platform/folders.js';
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
 * never leaves a half-written file under the real name: the bytes, a string (UTF-8), or chunks
 * written in order (encodeGguf's). A symbolic link is written through; a device, FIFO, socket or
 * folder is refused (ArgumentError); a full disk is a DiskFullError. Node only.
 */
export async function writeBytesAtomic(p: string, data: Uint8Array | string | readonly Uint8Array[]): Promise<void> {
  writable(p);
  await writeLocalAtomic(p, data);
}

export async function makeDir(p: string): Promise<void> {
  writable(p);
  await makeLocalDir(p);
}

/**
 * Puts the finished folder `tmp` (from makeTempDir) in place of `dir`, so that a crash leaves the
 * old folder or the new one, never a half-written one under the real name. Node only.
 */
export async function replaceDir(tmp: string, dir: string): Promise<void> {
  writable(dir);
  await replaceLocalDir(tmp, dir);
}

/**
 * The path that writing `p` really writes: `p`, or where the symbolic link `p` leads. Refuses
 * (ArgumentError) a device, FIFO, socket, a folder where a file is expected, a file where a folder
 * is, or a link leading nowhere. Writers call it before long work, to fail early. Node only.
 */
export async function checkWriteTarget(p: string, expect: WriteTargetKind): Promise<string> {
  writable(p);
  return checkLocalWriteTarget(p, expect);
}

/** A new empty temporary folder beside `dir` (for replaceDir), stale ones there removed first. Node only. */
export async function makeTempDir(dir: string): Promise<string> {
  writable(dir);
  return makeLocalTempDir(dir);
}

/**
 * A fresh temporary name beside `p`: `<p>.tmp-<pid>-<ms>-<n>` (being written) or `.del-…` (being
 * removed); removeStaleTemps knows the pattern and removes those whose process is gone. Node only.
 */
export function temporaryPath(p: string, kind: 'tmp' | 'del'): string {
  writable(p);
  return temporaryName(p, kind);
}

/** The names in a local folder (none when it does not exist). Node only. */
export async function listDir(dir: string): Promise<string[]> {
  writable(dir);
  return listLocalDir(dir);
}

/** Renames a local file or folder, durably (the folders are synced). Node only. */
export async function renamePath(from: string, to: string): Promise<void> {
  writable(to);
  await renameLocal(from, to);
}

/** Removes a local folder and what it holds (renamed aside first, so a crash never leaves it half-removed). Node only. */
export async function removeDir(p: string): Promise<void> {
  writable(p);
  await removeLocalDir(p);
}

/** Removes the temporaries a killed or failed run left directly in `dir`; returns their names. Node only. */
export async function removeStaleTemps(dir: string): Promise<string[]> {
  writable(dir);
  return removeStaleLocalTemps(dir);
}

/** Removes a file if present. Node only. */
export async function removeFile(p: string): Promise<void> {
  writable(p);
  await removeLocalFile(p);
}

/** The bytes of the files directly inside a local folder. Node only. */
export async function folderBytes(dir: string): Promise<number> {
  writable(dir);
  return localFolderBytes(dir);
}

/** Bytes free for this user on the file system holding `p` (NaN when unknown). Node only. */
export async function freeBytes(p: string): Promise<number> {
  writable(p);
  return localFreeBytes(p);
}
