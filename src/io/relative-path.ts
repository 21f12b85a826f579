/**
 * Paths inside a config file are relative to the file's folder (as in tsconfig.json or
 * docker-compose.yml), so a config works from any working directory. Pure string work: it runs in
 * browsers too, where "paths" are URLs.
 */

/** True for absolute POSIX or Windows paths and for URLs (http:, file:, blob:, data:, ...). */
export function isAbsoluteOrUrl(p: string): boolean {
  return p.startsWith('/') || p.startsWith('\\') || /^[A-Za-z]:[\\/]/.test(p) || /^[A-Za-z][A-Za-z0-9+.-]+:/.test(p);
}

/** `p` as seen from the folder of the file `base`; absolute paths and URLs are returned as they are. */
export function relativeToFile(base: string, p: string): string {
  if (isAbsoluteOrUrl(p)) return p;
  const cut = Math.max(base.lastIndexOf('/'), base.lastIndexOf('\\'));
  if (cut < 0) return p; // base is a bare file name: its folder is the working directory
  return `${base.slice(0, cut + 1)}${p}`;
}
