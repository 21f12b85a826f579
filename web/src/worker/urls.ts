/**
 * Model locations the page gives: './…', '/…' and 'http(s)://…' are URLs, resolved against the
 * page's folder (the worker script sits beside index.html); anything else is passed on as a
 * HuggingFace Hub id ('owner/name'), which the library fetches from huggingface.co.
 */
import type { PickedFolder } from '../protocol.js';
import { folderFromFiles } from './lib.js';

export function modelLocation(given: string): string {
  const s = given.trim();
  if (s === '') throw new Error('model: give a folder URL (./models/…) or a Hub id (owner/name)');
  if (/^(\.{1,2}\/|\/|https?:|blob:)/.test(s)) return new URL(s, self.location.href).href.replace(/\/$/, '');
  return s;
}

/**
 * A picked folder as a location the loaders read: mounted once per distinct set of files (name,
 * size, date), so that later jobs find the model already loaded under the same location.
 */
const mounted = new Map<string, string>();
export function folderLocation(folder: PickedFolder): string {
  const key = folder.files.map((f) => `${f.name}:${f.size}:${f.lastModified}`).sort().join('|');
  let path = mounted.get(key);
  if (!path) {
    path = folderFromFiles(folder.files).path;
    mounted.set(key, path);
  }
  return path;
}

/** Where a job's model is: the picked folder, else the URL or Hub id typed in. */
export function jobModel(job: { model: string; folder?: PickedFolder }): string {
  return job.folder ? folderLocation(job.folder) : modelLocation(job.model);
}

/** A shipped file (models/…, data/…) by its path relative to the page. */
export function shipped(path: string): string {
  return new URL(path, self.location.href).href;
}
