/**
 * Browsers write nothing (see ./files.ts), so none of the folder operations writers need exist
 * here; each says so. Twin of ../node/folders.ts (see ../README.md); reached through
 * src/io/platform.ts.
 */
import { UnsupportedError } from '../../errors.js';
import type * as NodeTwin from '../node/folders.js';

export type WriteTargetKind = NodeTwin.WriteTargetKind;

function noWriting(what: string, p: string): never {
  throw new UnsupportedError(`${p}: ${what} is not available in a browser; mamba-ts in a browser reads models but saves only in Node.js`);
}

export async function checkLocalWriteTarget(p: string, _expect: WriteTargetKind): Promise<string> {
  noWriting('writing', p);
}

export function temporaryName(p: string, _kind: 'tmp' | 'del' = 'tmp'): string {
  noWriting('a temporary file', p);
}

export async function removeStaleLocalTemps(folder: string): Promise<string[]> {
  noWriting('removing temporary files', folder);
}

export async function listLocalDir(folder: string): Promise<string[]> {
  noWriting('listing a folder', folder);
}

export async function syncLocalDir(folder: string): Promise<void> {
  noWriting('syncing a folder', folder);
}

export async function makeLocalTempDir(dir: string): Promise<string> {
  noWriting('making a folder', dir);
}

export async function makeFolders(dir: string): Promise<void> {
  noWriting('making a folder', dir);
}

export async function renameLocal(from: string, _to: string): Promise<void> {
  noWriting('renaming', from);
}

export async function removeLocalDir(p: string): Promise<void> {
  noWriting('removing a folder', p);
}

export async function localFolderBytes(folder: string): Promise<number> {
  noWriting('measuring a folder', folder);
}

export async function localFreeBytes(p: string): Promise<number> {
  noWriting('measuring free space', p);
}

// The compiler keeps the twins alike: this module must offer the Node twin's exports, with its types.
type SameAsNodeTwin<T extends typeof NodeTwin> = T;
type _Checked = SameAsNodeTwin<typeof import('./folders.js')>;
