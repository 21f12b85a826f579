/**
 * File names that a file gives for other files (the shards a `model.safetensors.index.json` names,
 * the files fetched from a Hub repository) must stay inside the folder they are read from, however
 * that folder is reached: a local path, an http(s) URL, a Hub repository's resolve/ URL, a path that
 * a browser resolves against its page, or a `memory://` folder. Pure string work: it runs in
 * browsers too.
 *
 * A check on the name as written is not enough: URL parsing turns `%2e%2e` into `..`, drops tabs and
 * newlines (`.\t./` becomes `../`), and a server may decode `..%2f` into `../` after the URL was
 * checked. So a name must be plain as written and after percent-decoding, and the resolved result
 * must still lie inside the folder.
 */
import { joinPath } from './platform.js';

/** Longer than any real file name in a model folder; a longer "name" is not one. */
export const MAX_FILE_NAME_CHARS = 1024;

/** C0 and C1 control characters and DEL: URL parsing drops or rewrites some of them. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Why `name` (already percent-decoded or not) is not a plain relative name, or undefined. */
function whyNotPlainForm(name: string): string | undefined {
  if (name === '') return 'it is empty';
  if (CONTROL.test(name)) return 'it holds a control character';
  if (name.includes('\\')) return 'it holds a backslash';
  if (name.startsWith('/')) return 'it is an absolute path';
  if (name.includes(':')) return 'it holds a ":" (a URL scheme or a drive letter)';
  if (name.includes('?') || name.includes('#')) return 'it holds a "?" or "#" (a URL query or fragment)';
  if (name.split('/').some((part) => part === '' || part === '.' || part === '..')) return 'it has an empty, "." or ".." part';
  return undefined;
}

/**
 * Why `name` is not a plain relative file name that stays inside its folder, or undefined when it
 * is one: not empty, at most MAX_FILE_NAME_CHARS characters, no control characters, backslashes,
 * colons, `?` or `#`, not absolute, no empty, `.` or `..` parts, and all of that also after
 * percent-decoding (repeatedly, for a server that decodes twice).
 */
export function whyNotPlainName(name: string): string | undefined {
  if (name.length > MAX_FILE_NAME_CHARS) return `it is longer than ${MAX_FILE_NAME_CHARS} characters`;
  let form = name;
  for (let round = 0; round < 4; round++) {
    const why = whyNotPlainForm(form);
    if (why !== undefined) return round === 0 ? why : `after percent-decoding, ${why}`;
    let decoded: string;
    try {
      decoded = decodeURIComponent(form);
    } catch {
      return 'it holds a "%" that is not a valid percent-escape';
    }
    if (decoded === form) break;
    form = decoded;
  }
  // The resolved URL must stay below the folder, whatever else URL parsing does with the name.
  const base = new URL('http://folder.invalid/a/b/');
  let url: URL;
  try {
    url = new URL(name, base);
  } catch {
    return 'it is not a valid relative URL';
  }
  if (url.origin !== base.origin || !url.pathname.startsWith(base.pathname) || url.pathname === base.pathname || url.search !== '' || url.hash !== '') {
    return 'as a URL it leads outside the folder';
  }
  return undefined;
}

const hasScheme = (p: string) => /^[A-Za-z][A-Za-z0-9+.-]*:/.test(p) && !/^[A-Za-z]:[\\/]/.test(p);

/** `p` with its `.` and `..` parts worked out, as path.posix.normalize would (without touching the disk). */
function normalizeSegments(p: string): string {
  const absolute = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!absolute) out.push('..');
    } else out.push(part);
  }
  return `${absolute ? '/' : ''}${out.join('/')}`;
}

/** True when the resolved URL `inner` lies below the folder URL `folder` (same origin, path prefix at a `/`). */
function urlInside(folder: URL, inner: URL): boolean {
  const prefix = folder.pathname.endsWith('/') ? folder.pathname : `${folder.pathname}/`;
  return inner.origin === folder.origin && inner.protocol === folder.protocol && inner.pathname.startsWith(prefix) && inner.pathname.length > prefix.length;
}

/**
 * The path or URL of the file `name` inside the folder `root`, or undefined when `name` is not a
 * plain name (see whyNotPlainName) or the resolved result is not inside `root`. For a URL root the
 * result is the resolved URL (what fetch will request); otherwise `root` joined with `name`, after
 * checking that working out its `.`/`..` parts (as a file system, or a browser resolving it against
 * its page, would) keeps it below `root`.
 */
export function resolveInside(root: string, name: string): string | undefined {
  if (whyNotPlainName(name) !== undefined) return undefined;
  if (hasScheme(root) && !root.startsWith('memory://')) {
    let folder: URL;
    let inner: URL;
    try {
      folder = new URL(root.endsWith('/') ? root : `${root}/`);
      inner = new URL(name, folder);
    } catch {
      return undefined; // a root such as blob: or data: has no files below it
    }
    return urlInside(folder, inner) ? inner.href : undefined;
  }
  const joined = joinPath(root, name);
  const top = normalizeSegments(root.replaceAll('\\', '/'));
  const resolved = normalizeSegments(joined.replaceAll('\\', '/'));
  const prefix = top === '' ? '' : top.endsWith('/') ? top : `${top}/`;
  if (!resolved.startsWith(prefix) || resolved.length <= prefix.length || resolved.startsWith('../') || resolved === '..') return undefined;
  return joined;
}
