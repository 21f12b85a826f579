/**
 * Local files in Node.js, through node:fs. Twin of ../browser/files.ts; library code reaches it as
 * `#platform/files.js` (see ../README.md: package.json's `imports` picks the twin), usually through
 * src/io/platform.ts, which also handles URLs and in-memory folders.
 */
import { constants as bufferConstants } from 'node:buffer';
import { constants as fsConstants, type Stats } from 'node:fs';
import { lstat, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { DiskFullError, FormatError } from '../../errors.js';
import { checkReadSize, describeBytes, readCap, type ReadOptions } from '../../io/read-options.js';
import { faultPoint } from './fault-points.js';
import { checkLocalWriteTarget, localFreeBytes, makeFolders, renameLocal, syncLocalDir, temporaryName } from './folders.js';
import { entryKind } from '../../io/entry-kind.js';

/** A file: URL (e.g. a file shipped in the package, found through import.meta.url) as fs takes it. */
function asFsPath(p: string): string | URL {
  return p.startsWith('file:') ? new URL(p) : p;
}

/**
 * Refuses anything but a regular file: a folder, and above all a FIFO (reading waits for a writer,
 * forever), a device (/dev/zero never ends; /dev/random neither) or a socket. Links are followed
 * first, so a link to a regular file is fine and a link to /dev/zero is named as such.
 */
async function refuseNonRegular(p: string, fsPath: string | URL, s: Stats): Promise<void> {
  if (s.isFile()) return;
  const viaLink = await lstat(fsPath).then((l) => l.isSymbolicLink(), () => false);
  const kind = entryKind(s);
  const what = viaLink ? `a symbolic link to ${kind.replace(/^not /, 'something not ')}` : kind;
  throw new FormatError(p, s.isDirectory() && !viaLink ? 'is a folder, expected a file' : `is ${what}, not a regular file; only regular files (or links to them) are read`);
}

/** Node's errors for a path that cannot be statted or opened, in words that name the path. */
function explain(p: string, e: unknown): unknown {
  const code = (e as { code?: string }).code;
  if (code === 'ENOENT') return new Error(`${p}: no such file`);
  if (code === 'EISDIR') return new Error(`${p}: is a folder, expected a file`);
  if (code === 'ENOTDIR') return new Error(`${p}: no such file (a part of the path is not a folder)`);
  return e; // EACCES, ELOOP, EMFILE, …: Node's message names the path and the reason
}

/** Reads in pieces of at most this many bytes: one read() call stops near 2 GiB. */
const READ_PIECE = 1 << 30;

/**
 * Reads a whole regular file (a path or a file: URL). Its size is known before reading (from the
 * opened file itself), so a cap (`maxBytes`) refuses a large file before a byte is read, and the
 * file must still have that size at the end: one that grows or shrinks while read is an error,
 * never a silently cut copy. Anything but a regular file (after following links) is refused, without
 * blocking on a FIFO. A missing file or a folder gives an error naming the path.
 */
export async function readLocalBytes(p: string, o?: ReadOptions): Promise<Uint8Array> {
  readCap(o); // a bad cap is the caller's error, reported before the file is touched
  const fsPath = asFsPath(p);
  // stat first, so that a FIFO or a device is refused without being opened at all.
  let before: Stats;
  try {
    before = await stat(fsPath);
  } catch (e) {
    throw explain(p, e);
  }
  await refuseNonRegular(p, fsPath, before);
  checkReadSize(p, before.size, o);
  let handle: FileHandle;
  try {
    // O_NONBLOCK: should the path have become a FIFO since the stat, open returns at once instead
    // of waiting for a writer, and the fstat below refuses it. (Windows has no such flag or files.)
    handle = await open(fsPath, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw explain(p, e);
  }
  try {
    const s = await handle.stat(); // the file actually opened, not whatever the path names now
    await refuseNonRegular(p, fsPath, s);
    checkReadSize(p, s.size, o);
    const size = s.size;
    if (size > bufferConstants.MAX_LENGTH) {
      throw new FormatError(p, `${describeBytes(size)}, more than Node.js can hold in one buffer (${describeBytes(bufferConstants.MAX_LENGTH)})`);
    }
    // Not from Buffer's shared pool: callers keep the bytes, and every byte is written below.
    const buf = Buffer.allocUnsafeSlow(size);
    let filled = 0;
    while (filled < size) {
      const { bytesRead } = await handle.read(buf, filled, Math.min(READ_PIECE, size - filled), filled);
      if (bytesRead === 0) {
        throw new FormatError(p, `the file shrank while it was read: ${describeBytes(size)} when opened, it ended after ${describeBytes(filled)}`);
      }
      filled += bytesRead;
    }
    // A byte past the size means the file grew while it was read: what we hold would be cut off.
    if ((await handle.read(Buffer.alloc(1), 0, 1, size)).bytesRead > 0) {
      throw new FormatError(p, `the file grew while it was read: ${describeBytes(size)} when opened, longer at the end`);
    }
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } finally {
    await handle.close();
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
 * Writes a file atomically: the bytes go to a temporary file beside the target, which is synced and
 * then renamed over it (and the folder synced), so a crash never leaves a half-written file under
 * the real name. A symbolic link is written through (its real file is replaced, the link stays); a
 * device, FIFO, socket or folder is refused (see checkLocalWriteTarget). The temporary is removed
 * on any error; a full disk gives a DiskFullError saying how much space the file needs.
 */
export async function writeLocalAtomic(p: string, data: Uint8Array | string | readonly Uint8Array[]): Promise<void> {
  const target = await checkLocalWriteTarget(p, 'file');
  await makeFolders(dirname(target));
  // Chunks (e.g. encodeGguf's) are written in order, never joined: a model file may be gigabytes.
  const chunks = typeof data === 'string' ? [new TextEncoder().encode(data)] : data instanceof Uint8Array ? [data] : data;
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const mode = await existingMode(target);
  const tmp = temporaryName(target);
  const name = basename(target);
  let handle: FileHandle | undefined;
  try {
    handle = await open(tmp, 'wx');
    if (mode !== undefined) await handle.chmod(mode);
    // The fault point sits half way through the bytes, so the crash tests can stop this process
    // with half a file written.
    let written = 0;
    const half = total >> 1;
    for (const chunk of chunks) {
      const cut = written <= half && half < written + chunk.length ? half - written : -1;
      if (cut >= 0) {
        await handle.writeFile(chunk.subarray(0, cut));
        if (faultPoint(`write ${name}`) === 'enospc') throw Object.assign(new Error(`ENOSPC: no space left on device, write (injected at "write ${name}")`), { code: 'ENOSPC' });
        await handle.writeFile(chunk.subarray(cut));
      } else {
        await handle.writeFile(chunk);
      }
      written += chunk.length;
    }
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(tmp, target);
  } catch (e) {
    await handle?.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw await explainWriteError(e, p, total);
  }
  await syncLocalDir(dirname(target));
  faultPoint(`renamed ${name}`);
}

/** The permission bits of an existing regular file (kept by the file that replaces it). */
async function existingMode(p: string): Promise<number | undefined> {
  try {
    return (await stat(p)).mode & 0o7777;
  } catch {
    return undefined;
  }
}

/** A full disk becomes a DiskFullError with the bytes needed and free; other errors pass unchanged. */
async function explainWriteError(e: unknown, p: string, needed: number): Promise<unknown> {
  const code = (e as { code?: string }).code;
  if (code !== 'ENOSPC' && code !== 'EDQUOT') return e;
  return new DiskFullError(p, needed, await localFreeBytes(dirname(p)), code, 'the partial file was removed');
}

/** mkdir -p, refusing (by name) a path that exists as something other than a folder. */
export async function makeLocalDir(p: string): Promise<void> {
  const target = await checkLocalWriteTarget(p, 'folder');
  await makeFolders(target);
}

/**
 * Puts the finished folder `tmp` (made by makeLocalTempDir) in place of `dir`: the old folder is
 * renamed to a `.del-` name first and removed only after the new one is in place, each rename
 * synced. A crash between the two renames leaves the new folder under its temporary name (and the
 * old one under `.del-`), never a half-written folder under the real name. Where `dir` is a link
 * to a folder, the real folder is replaced and the link stays. For checkpoints, which must never be
 * without a complete copy under a final name, see src/train/checkpoint-folder.ts.
 */
export async function replaceLocalDir(tmp: string, dir: string): Promise<void> {
  const target = await checkLocalWriteTarget(dir, 'folder');
  await syncLocalDir(tmp);
  const had = await localExists(target);
  const old = temporaryName(target, 'del');
  if (had) await renameLocal(target, old);
  await renameLocal(tmp, target);
  if (had) await rm(old, { recursive: true, force: true });
}

/** Removes a file (or a link, not what it leads to) if present. */
export async function removeLocalFile(p: string): Promise<void> {
  await rm(p, { force: true });
}
