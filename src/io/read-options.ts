/**
 * A cap on how many bytes one read may bring into memory, shared by every way a file is read (local
 * files, URLs, in-memory folders). A file's size is known (or announced) before its contents are
 * read, so a cap refuses an oversized file before a byte of it is read; a URL that announces no size
 * is read until the cap and then stopped.
 */
import { ArgumentError, FormatError } from '../errors.js';

/** Options of readBytes / readText. */
export interface ReadOptions {
  /** The most bytes the file may hold; a larger file is refused before it is read. Default: no cap. */
  maxBytes?: number;
  /** What the file is, for the message when it is too large: "config.json", "a shard index". */
  what?: string;
}

/** A byte count as people read it: "20.00 MiB (20,971,520 bytes)". */
export function describeBytes(n: number): string {
  const exact = `${n.toLocaleString('en-US')} byte${n === 1 ? '' : 's'}`;
  if (n < 1024) return exact;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(2)} ${units[u]} (${exact})`;
}

/** The cap of `o`, checked: undefined for none. */
export function readCap(o: ReadOptions | undefined): number | undefined {
  const cap = o?.maxBytes;
  if (cap === undefined) return undefined;
  if (!Number.isSafeInteger(cap) || cap < 0) throw new ArgumentError(`maxBytes must be a whole number of bytes >= 0, got ${String(cap)}`);
  return cap;
}

/**
 * The error for a file over the cap: `size` bytes, or, when `size` is undefined, a stream that
 * announced no size and went past the cap.
 */
export function tooLarge(p: string, size: number | undefined, cap: number, o: ReadOptions | undefined): FormatError {
  const what = o?.what ?? 'this file';
  if (size === undefined) return new FormatError(p, `more than the ${describeBytes(cap)} allowed for ${what} (no size was announced; reading stopped at the limit)`);
  return new FormatError(p, `${describeBytes(size)}, more than the ${describeBytes(cap)} allowed for ${what}`);
}

/** Refuses a file of `size` bytes when it is over the cap of `o`, before anything is read. */
export function checkReadSize(p: string, size: number, o: ReadOptions | undefined): void {
  const cap = readCap(o);
  if (cap !== undefined && size > cap) throw tooLarge(p, size, cap, o);
}
