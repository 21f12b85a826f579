/**
 * Files held in memory (a browser's File objects from `<input type="file">` or drag and drop, or
 * ArrayBuffers) given a folder path, so that every loader that takes a folder
 * (AutoModelForCausalLM.fromPretrained, AutoTokenizer.fromPretrained, …) reads them as it reads a
 * folder on disk or over HTTP. src/io/platform.ts looks paths under `memory://` up here.
 */
import { ArgumentError } from '../errors.js';
import { quoteForMessage } from '../quote.js';
import { checkReadSize, type ReadOptions } from './read-options.js';

/** What a file's contents may be: a Blob (a File is one), an ArrayBuffer or a view of one. */
export type FileContents = Blob | ArrayBuffer | ArrayBufferView;

/** A mounted in-memory folder: pass `path` to the loaders; `release()` forgets the files. */
export interface MemoryFolder {
  readonly path: string;
  /** The file names, as the loaders will look them up (`config.json`, `model.safetensors`, …). */
  readonly names: readonly string[];
  release(): void;
}

const PREFIX = 'memory://';
const folders = new Map<string, Map<string, FileContents>>();
let mounted = 0;

/**
 * Mounts files as a folder. Takes File objects (an `<input type="file" multiple>`'s `files`, or an
 * array; only each file's own name counts, so a `webkitdirectory` pick works too), or a record or
 * Map from file name to contents.
 */
export function folderFromFiles(
  files: ArrayLike<File> | Iterable<File> | Record<string, FileContents> | ReadonlyMap<string, FileContents>,
): MemoryFolder {
  const entries = new Map<string, FileContents>();
  for (const [name, contents] of namedContents(files)) {
    if (!name || name.includes('/')) {
      throw new ArgumentError(`folderFromFiles: file name ${quoteForMessage(name)} must be a plain name such as "config.json"`);
    }
    if (!isContents(contents)) {
      throw new ArgumentError(`folderFromFiles: ${name}: expected a File, Blob, ArrayBuffer or typed array`);
    }
    if (entries.has(name)) throw new ArgumentError(`folderFromFiles: two files are named ${name}`);
    entries.set(name, contents);
  }
  const key = String(++mounted);
  folders.set(key, entries);
  return {
    path: `${PREFIX}${key}`,
    names: [...entries.keys()],
    release: () => void folders.delete(key),
  };
}

function namedContents(files: Parameters<typeof folderFromFiles>[0]): [string, unknown][] {
  if (files instanceof Map) return [...(files as ReadonlyMap<string, unknown>).entries()];
  const list = Symbol.iterator in files || typeof (files as ArrayLike<File>).length === 'number';
  if (!list) return Object.entries(files);
  return Array.from(files as ArrayLike<unknown>, (f, i): [string, unknown] => {
    if (!isFile(f)) {
      throw new ArgumentError(`folderFromFiles: item ${i} is not a File; for unnamed contents pass a record { "config.json": contents, … }`);
    }
    return [f.name, f];
  });
}

function isFile(x: unknown): x is File {
  return typeof File !== 'undefined' && x instanceof File;
}

function isContents(x: unknown): x is FileContents {
  return (typeof Blob !== 'undefined' && x instanceof Blob) || x instanceof ArrayBuffer || ArrayBuffer.isView(x);
}

export function isMemoryPath(p: string): boolean {
  return p.startsWith(PREFIX);
}

function split(p: string): { folder: Map<string, FileContents> | undefined; name: string } {
  const rest = p.slice(PREFIX.length);
  const slash = rest.indexOf('/');
  return slash < 0 ? { folder: undefined, name: '' } : { folder: folders.get(rest.slice(0, slash)), name: rest.slice(slash + 1) };
}

/** A file's bytes; with `maxBytes`, a larger file is refused before its contents are read. */
export async function readMemoryBytes(p: string, o?: ReadOptions): Promise<Uint8Array> {
  const { folder, name } = split(p);
  if (!folder) throw new Error(`${p}: no in-memory folder here (released, or never mounted with folderFromFiles)`);
  const c = folder.get(name);
  if (c === undefined) throw new Error(`${p}: no such file; the in-memory folder has ${[...folder.keys()].join(', ') || 'no files'}`);
  checkReadSize(p, c instanceof ArrayBuffer || ArrayBuffer.isView(c) ? c.byteLength : c.size, o);
  if (c instanceof ArrayBuffer) return new Uint8Array(c);
  if (ArrayBuffer.isView(c)) return new Uint8Array(c.buffer, c.byteOffset, c.byteLength);
  return new Uint8Array(await c.arrayBuffer());
}

export function memoryExists(p: string): boolean {
  const { folder, name } = split(p);
  return folder?.has(name) ?? false;
}
