/**
 * What writers need of the file system beyond single files, in Node.js: where a path really leads
 * (writing goes through symbolic links, never over devices or FIFOs), temporary names and the
 * removal of temporaries a dead process left, and folder renames that survive a crash (the parent
 * folder is synced after each). Twin of ../browser/folders.ts; library code reaches it through
 * src/io/platform.ts.
 *
 * Temporary names: `<name>.tmp-<pid>-<ms>-<n>` while written, `<name>.del-<pid>-<ms>-<n>` while a
 * replaced folder is removed (<ms> is the writer's clock when it made the name). One is stale, and
 * removed on the next start, when process <pid> is gone, or when it is this process's pid but older
 * than this process (a pid reused, as in containers where every run is pid 1).
 */
import { lstat, mkdir, open, readdir, realpath, rename, rm, stat, statfs } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ArgumentError } from '../../errors.js';
import { entryKind } from '../../io/entry-kind.js';

export type WriteTargetKind = 'file' | 'folder';

function errorCode(e: unknown): string | undefined {
  return (e as { code?: string }).code;
}

/**
 * The path to write `p` at: `p` itself when it does not exist yet or is what is expected (a regular
 * file, or a folder), or, for a symbolic link, the real path of the regular file or folder it leads
 * to, so that the link survives the write. Anything else (a device, a FIFO, a socket, a folder where
 * a file is expected, a link leading nowhere) is refused: replacing it would destroy what it is (as
 * root, `/dev/null` itself).
 */
export async function checkLocalWriteTarget(p: string, expect: WriteTargetKind): Promise<string> {
  let link;
  try {
    link = await lstat(p);
  } catch (e) {
    if (errorCode(e) === 'ENOENT') return p;
    if (errorCode(e) === 'ENOTDIR') throw new ArgumentError(`${p}: cannot write here: a part of the path is a file, not a folder`);
    throw e;
  }
  let target = p;
  let s = link;
  if (link.isSymbolicLink()) {
    try {
      target = await realpath(p);
      s = await stat(target);
    } catch (e) {
      if (errorCode(e) === 'ENOENT' || errorCode(e) === 'ELOOP') {
        throw new ArgumentError(`${p}: a symbolic link that leads to no existing ${expect}; refusing to write through it (remove the link or point it at a ${expect === 'file' ? 'regular file' : 'folder'})`);
      }
      throw e;
    }
  }
  const ok = expect === 'file' ? s.isFile() : s.isDirectory();
  if (!ok) {
    const via = target === p ? '' : ` (through the symbolic link, ${target})`;
    const want = expect === 'file' ? 'a regular file or a new path' : 'a folder or a new path';
    throw new ArgumentError(`${p}: is ${entryKind(s)}${via}, refusing to write over it; expected ${want}`);
  }
  return target;
}

let sequence = 0;

/** A fresh temporary name beside `p` (see the module comment for the pattern). */
export function temporaryName(p: string, kind: 'tmp' | 'del' = 'tmp'): string {
  return `${p}.${kind}-${process.pid}-${Date.now()}-${++sequence}`;
}

// A pid, then a clock in ms (12 to 14 digits: 2001 to 5138), so that a user's `notes.tmp-2024-05` is never taken for one.
const TEMPORARY = /\.(tmp|del)-(\d{1,10})-(\d{12,14})(?:-\d+)?$/;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errorCode(e) === 'EPERM'; // alive, but someone else's
  }
}

/** True for a temporary name (ours or an earlier run's) whose writer is gone. */
function isStaleTemporary(name: string): boolean {
  const m = TEMPORARY.exec(name);
  if (!m) return false;
  const pid = Number(m[2]);
  const made = Number(m[3]);
  if (pid === process.pid) return made < Math.floor(performance.timeOrigin);
  return !processAlive(pid);
}

/**
 * Removes the stale temporaries (files and folders) directly inside `folder`, left by a run that
 * was killed or hit a full disk; returns their names. A missing folder has none.
 */
export async function removeStaleLocalTemps(folder: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(folder);
  } catch (e) {
    if (errorCode(e) === 'ENOENT' || errorCode(e) === 'ENOTDIR') return [];
    throw e;
  }
  const stale = names.filter(isStaleTemporary);
  for (const name of stale) await rm(join(folder, name), { recursive: true, force: true });
  return stale;
}

/** The names in a folder (none when it does not exist). */
export async function listLocalDir(folder: string): Promise<string[]> {
  try {
    return await readdir(folder);
  } catch (e) {
    if (errorCode(e) === 'ENOENT') return [];
    throw e;
  }
}

/**
 * Flushes a folder's entries (names made, renamed or removed in it) to the disk, so that a rename
 * survives a power cut as the files' own sync makes their bytes survive. Where folders cannot be
 * opened or synced (Windows, some network file systems) this does nothing.
 */
export async function syncLocalDir(folder: string): Promise<void> {
  let handle;
  try {
    handle = await open(folder, 'r');
    await handle.sync();
  } catch (e) {
    const code = errorCode(e);
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF' && code !== 'EACCES') throw e;
  } finally {
    await handle?.close();
  }
}

/**
 * Makes a new, empty temporary folder beside `dir` (beside the real folder when `dir` is a link to
 * one, so that the finished folder can be renamed into place on the same file system). Stale
 * temporaries beside it are removed first.
 */
export async function makeLocalTempDir(dir: string): Promise<string> {
  const target = await checkLocalWriteTarget(dir, 'folder');
  await makeFolders(dirname(target));
  await removeStaleLocalTemps(dirname(target));
  const tmp = temporaryName(target);
  await mkdir(tmp);
  return tmp;
}

/** mkdir -p, with an error that says when a part of the path is a file, not a folder. */
export async function makeFolders(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    if (errorCode(e) === 'ENOTDIR' || errorCode(e) === 'EEXIST') {
      throw new ArgumentError(`${dir}: cannot make this folder: a part of the path is a file, not a folder`);
    }
    throw e;
  }
}

/** Renames a file or folder and syncs the folder(s) holding it, so that the rename is durable. */
export async function renameLocal(from: string, to: string): Promise<void> {
  await rename(from, to);
  await syncLocalDir(dirname(to));
  if (dirname(from) !== dirname(to)) await syncLocalDir(dirname(from));
}

/**
 * Removes a folder and everything in it (a file too). It is first renamed to a `.del-` name, so a
 * crash halfway through leaves a stale temporary (removed on the next start), never a half-empty
 * folder under its real name.
 */
export async function removeLocalDir(p: string): Promise<void> {
  try {
    await lstat(p);
  } catch (e) {
    if (errorCode(e) === 'ENOENT') return;
    throw e;
  }
  const trash = TEMPORARY.test(p) ? p : temporaryName(p, 'del'); // a temporary already is one
  if (trash !== p) await renameLocal(p, trash);
  await rm(trash, { recursive: true, force: true });
}

/**
 * The disk space the regular files directly inside `folder` take (allocated blocks, which is what
 * removing them frees and what writing them again needs; their sizes where blocks are not told).
 */
export async function localFolderBytes(folder: string): Promise<number> {
  let total = 0;
  for (const name of await listLocalDir(folder)) {
    const s = await lstat(join(folder, name)).catch(() => null);
    if (s?.isFile()) total += Number.isFinite(s.blocks) && s.blocks > 0 ? s.blocks * 512 : s.size;
  }
  return total;
}

/** Bytes free for this user on the file system holding `p` (NaN when it cannot be told). */
export async function localFreeBytes(p: string): Promise<number> {
  try {
    const fs = await statfs(p);
    return Number(fs.bavail) * Number(fs.bsize);
  } catch {
    return NaN;
  }
}
