/**
 * "Local" files in a browser: a path that is not a full URL is a URL relative to the page, read with
 * fetch; nothing can be written. Twin of ../node/files.ts (see ../README.md); reached as
 * `#platform/files.js`, usually through src/io/platform.ts.
 */
import { UnsupportedError } from '../../errors.js';
import { fetchBytes, urlExists } from '../../io/fetch-bytes.js';
import type { ReadOptions } from '../../io/read-options.js';
import type * as NodeTwin from '../node/files.js';

/** Fetches the file; a body over `maxBytes` is refused (before it is read when its size is announced). */
export async function readLocalBytes(p: string, o?: ReadOptions): Promise<Uint8Array> {
  return fetchBytes(p, o);
}

export async function localExists(p: string): Promise<boolean> {
  return urlExists(p);
}

function noWriting(what: string, p: string): never {
  throw new UnsupportedError(
    `${p}: ${what} is not available in a browser; mamba-ts in a browser reads models (over HTTP, or from File objects with folderFromFiles) but saves only in Node.js`,
  );
}

export async function writeLocalAtomic(p: string, _data: Uint8Array | string | readonly Uint8Array[]): Promise<void> {
  noWriting('writing a file', p);
}

export async function makeLocalDir(p: string): Promise<void> {
  noWriting('making a folder', p);
}

export async function replaceLocalDir(_tmp: string, dir: string): Promise<void> {
  noWriting('replacing a folder', dir);
}

export async function removeLocalFile(p: string): Promise<void> {
  noWriting('removing a file', p);
}

// The compiler keeps the twins alike: this module must offer the Node twin's exports, with its types.
type SameAsNodeTwin<T extends typeof NodeTwin> = T;
type _Checked = SameAsNodeTwin<typeof import('./files.js')>;
