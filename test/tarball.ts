/**
 * Lists a .tar.gz (what `npm pack` writes) with each entry's path and permission bits as its tar
 * header records them: the mode npm gives an installed bin comes from there. Reads ustar headers
 * (with their name prefix), pax extended headers (`path`) and GNU long names.
 */
import { gunzipSync } from 'node:zlib';

export interface TarEntry {
  path: string;
  /** Permission bits from the header (e.g. 0o755). */
  mode: number;
  type: 'file' | 'directory' | 'other';
  size: number;
}

const BLOCK = 512;

function text(b: Uint8Array, start: number, length: number): string {
  const field = b.subarray(start, start + length);
  const end = field.indexOf(0);
  return new TextDecoder().decode(end === -1 ? field : field.subarray(0, end));
}

function octal(b: Uint8Array, start: number, length: number, what: string): number {
  if (b[start]! & 0x80) throw new Error(`tar: ${what} uses base-256, which this reader does not handle`);
  const s = text(b, start, length).trim();
  const n = s === '' ? 0 : parseInt(s, 8);
  if (!Number.isFinite(n)) throw new Error(`tar: ${what} field ${JSON.stringify(s)} is not octal`);
  return n;
}

/** The `path` record of a pax extended header ("<length> path=<value>\n" records). */
function paxPath(data: Uint8Array): string | undefined {
  const records = new TextDecoder().decode(data);
  let at = 0;
  while (at < records.length) {
    const space = records.indexOf(' ', at);
    const length = Number(records.slice(at, space));
    if (space === -1 || !Number.isInteger(length) || length <= 0) break;
    const record = records.slice(space + 1, at + length - 1);
    if (record.startsWith('path=')) return record.slice('path='.length);
    at += length;
  }
  return undefined;
}

export function listTarGz(gz: Uint8Array): TarEntry[] {
  const tar = gunzipSync(gz);
  const entries: TarEntry[] = [];
  let longName: string | undefined;
  for (let at = 0; at + BLOCK <= tar.length; ) {
    const header = tar.subarray(at, at + BLOCK);
    if (header.every((byte) => byte === 0)) break; // the end-of-archive blocks
    const size = octal(header, 124, 12, 'size');
    const flag = String.fromCharCode(header[156]!);
    const data = tar.subarray(at + BLOCK, at + BLOCK + size);
    at += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
    if (flag === 'x') {
      longName = paxPath(data) ?? longName;
      continue;
    }
    if (flag === 'L') {
      longName = text(data, 0, data.length);
      continue;
    }
    if (flag === 'g') continue; // pax global header: nothing per file
    const prefix = text(header, 345, 155);
    const name = text(header, 0, 100);
    const path = longName ?? (prefix ? `${prefix}/${name}` : name);
    longName = undefined;
    entries.push({
      path,
      mode: octal(header, 100, 8, `mode of ${path}`) & 0o7777,
      type: flag === '0' || flag === '\0' ? 'file' : flag === '5' ? 'directory' : 'other',
      size,
    });
  }
  return entries;
}
