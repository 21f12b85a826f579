/**
 * Reading a URL's body whole, within a byte cap (see read-options.ts). Used for http(s) paths in Node
 * and browsers, and for every "local" path in a browser (a URL relative to the page).
 *
 * The body is never trusted to be what its headers say: an announced Content-Length over the cap is
 * refused before the body is read, a body without one is read as a stream and stopped at the cap,
 * and a body longer or shorter than announced is an error rather than a silently cut file.
 */
import { FormatError } from '../errors.js';
import { describeBytes, readCap, tooLarge, type ReadOptions } from './read-options.js';

/** The size the server announces for the body as it will arrive, or undefined when it does not say. */
function announcedLength(res: Response): number | undefined {
  // Content-Length counts the encoded bytes; with gzip or br the body that arrives is another size.
  const encoding = (res.headers.get('content-encoding') ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity' && encoding !== '') return undefined;
  const header = res.headers.get('content-length')?.trim();
  if (header === undefined || !/^\d+$/.test(header)) return undefined;
  const n = Number(header);
  return Number.isSafeInteger(n) ? n : undefined;
}

function reason(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = (e as { cause?: unknown }).cause;
  return cause instanceof Error ? `${e.message}: ${cause.message}` : e.message;
}

/** A buffer for a whole body, or an error naming the URL when this runtime cannot hold that many bytes. */
function allocate(url: string, n: number): Uint8Array {
  try {
    return new Uint8Array(n);
  } catch {
    throw new FormatError(url, `${describeBytes(n)} is more than this runtime can hold in one piece of memory`);
  }
}

/** Reads the rest of `res`'s body into one array, within the cap of `o`. */
async function readBody(res: Response, url: string, o: ReadOptions | undefined): Promise<Uint8Array> {
  const cap = readCap(o);
  const length = announcedLength(res);
  if (length !== undefined && cap !== undefined && length > cap) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLarge(url, length, cap, o);
  }
  if (res.body === null) return new Uint8Array(0);
  const reader = res.body.getReader();
  const whole = length === undefined ? undefined : allocate(url, length);
  const chunks: Uint8Array[] = [];
  let received = 0;
  try {
    for (;;) {
      let step: ReadableStreamReadResult<Uint8Array>;
      try {
        step = await reader.read();
      } catch (e) {
        throw new Error(`${url}: the download broke off after ${describeBytes(received)} (${reason(e)})`);
      }
      if (step.done) break;
      const chunk = step.value;
      if (whole !== undefined) {
        if (received + chunk.byteLength > whole.byteLength) {
          throw new FormatError(url, `the server sent more than the ${describeBytes(whole.byteLength)} its Content-Length announced`);
        }
        whole.set(chunk, received);
      } else {
        if (cap !== undefined && received + chunk.byteLength > cap) throw tooLarge(url, undefined, cap, o);
        chunks.push(chunk);
      }
      received += chunk.byteLength;
    }
  } catch (e) {
    await reader.cancel().catch(() => undefined);
    throw e;
  }
  if (whole !== undefined) {
    if (received < whole.byteLength) {
      throw new FormatError(url, `the body ended after ${describeBytes(received)} of the ${describeBytes(whole.byteLength)} its Content-Length announced`);
    }
    return whole;
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = allocate(url, received);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** Fetches `url` and returns its body, refusing bodies over the cap of `o`; errors name the URL. */
export async function fetchBytes(url: string, o?: ReadOptions): Promise<Uint8Array> {
  readCap(o); // a bad cap is the caller's error, reported before any request
  const res = await fetch(url);
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    if (res.status === 404) throw new Error(`${url}: no such file (HTTP 404)`);
    throw new Error(`${url}: HTTP ${res.status} ${res.statusText}`);
  }
  return readBody(res, url, o);
}

/** True when the URL answers a HEAD request with success. */
export async function urlExists(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { method: 'HEAD' })).ok;
  } catch {
    return false;
  }
}
