/**
 * Model locations the page gives: './…', '/…' and 'http(s)://…' are URLs, resolved against the
 * page's folder (the worker script sits beside index.html); anything else is passed on as a
 * HuggingFace Hub id ('owner/name'), which the library fetches from huggingface.co.
 */
export function modelLocation(given: string): string {
  const s = given.trim();
  if (s === '') throw new Error('model: give a folder URL (./models/…) or a Hub id (owner/name)');
  if (/^(\.{1,2}\/|\/|https?:|blob:)/.test(s)) return new URL(s, self.location.href).href.replace(/\/$/, '');
  return s;
}

/** A shipped file (models/…, data/…) by its path relative to the page. */
export function shipped(path: string): string {
  return new URL(path, self.location.href).href;
}
