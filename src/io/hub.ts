/**
 * Loading from the HuggingFace Hub: `fromPretrained('state-spaces/mamba-130m-hf')`. This file decides
 * whether a name is a local folder or a Hub repository and which files a model or tokenizer needs;
 * the Node-only src/platform/node/hub-cache.ts puts those files in HuggingFace's cache (the layout Python's
 * huggingface_hub uses, so each reuses what the other fetched) and returns the snapshot folder, which
 * the folder loaders then read as any local folder. In a browser there is no cache: a Hub id becomes
 * the repository's `resolve/` URL, which the loaders fetch like any URL.
 */
import { HubError } from '../errors.js';
import { CONFIG_FILE, WEIGHTS_FILE, WEIGHTS_INDEX_FILE, readShardNames } from './hf-folder.js';
import { exists, joinPath } from './platform.js';
import type { ProgressCallback } from './progress.js';
import { optionKeys, type KeyRecord } from '../options.js';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';
export const DEFAULT_REVISION = 'main';

export type { DownloadProgress } from './progress.js';

/** Where a model or tokenizer comes from when it is given as a Hub id. Ignored for local folders. */
export interface HubOptions {
  /** Branch, tag or commit hash. Default 'main'. */
  revision?: string;
  /**
   * The cache folder. Default: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub
   * (huggingface_hub's rules, so files fetched by Python are reused).
   */
  cacheDir?: string;
  /** Access token for private or gated repositories. Default: $HF_TOKEN. */
  token?: string;
  /** Use only the cache, never the network. Also set by HF_HUB_OFFLINE=1. */
  localFilesOnly?: boolean;
  /** The Hub's address. Default: $HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string;
  /**
   * Ask the Hub which commit the revision names now even when its files are cached. Default false:
   * a branch or tag whose files are all in the cache is used without any request, as it was when
   * it was fetched.
   */
  refresh?: boolean;
  /** Called as files download; nothing is reported for files already cached. */
  progressCallback?: ProgressCallback;
}

/** HubOptions' keys, for the options checks of every loader that takes them (spread into theirs). */
export const HUB_OPTION_KEY_RECORD: KeyRecord<HubOptions> = {
  revision: true,
  cacheDir: true,
  token: true,
  localFilesOnly: true,
  endpoint: true,
  refresh: true,
  progressCallback: true,
};
export const HUB_OPTION_KEYS = optionKeys<HubOptions>(HUB_OPTION_KEY_RECORD);

/** The files one loader reads: config.json alone, a model (config and weights), or a tokenizer. */
export type PretrainedFiles = 'config' | 'model' | 'tokenizer';

const TOKENIZER_FILE = 'tokenizer.json';
const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';

/** A Hub-side part of an id: starts and ends with a letter, digit or `_`; `-` and `.` inside. */
const ID_PART = '[A-Za-z0-9_](?:[\\w.-]*[A-Za-z0-9_])?';
const HUB_ID = new RegExp(`^${ID_PART}/${ID_PART}$`);

/**
 * True when `s` has the shape of a Hub model id, `owner/name` (huggingface_hub's rules: letters,
 * digits, `_`, `-`, `.`; no `--` or `..`; at most 96 characters). Paths such as `./x/y`, `/x/y` or
 * `a/b/c` never are.
 */
export function isHubId(s: string): boolean {
  return s.length <= 96 && HUB_ID.test(s) && !s.includes('--') && !s.includes('..');
}

const isNode = typeof process !== 'undefined' && process.versions?.node !== undefined;
const hasScheme = (s: string) => /^[a-z][a-z0-9+.-]*:/i.test(s);

/**
 * The repository's folder at a revision as a URL (`{endpoint}/{id}/resolve/{revision}/`), which the
 * folder loaders read like any URL: how browsers, which have no cache, load a Hub id. Public
 * repositories only (no token is sent).
 */
export function hubFolderUrl(id: string, o: Pick<HubOptions, 'endpoint' | 'revision'> = {}): string {
  const endpoint = (o.endpoint ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
  return `${endpoint}/${id}/resolve/${encodeURIComponent(o.revision ?? DEFAULT_REVISION)}/`;
}

/** The file whose presence makes a browser "folder" (a URL prefix) local rather than a Hub id. */
function marker(files: PretrainedFiles): string {
  return files === 'tokenizer' ? TOKENIZER_FILE : CONFIG_FILE;
}

/**
 * The folder to load `files` from. A local path (or URL) that exists, or a name that is not a Hub
 * id, comes back unchanged, so the local folder wins over a Hub repository of the same name. A Hub
 * id gets its files into the cache (Node) and comes back as the snapshot folder holding them, or
 * (browser) as the repository's resolve URL at the revision.
 */
export async function resolvePretrained(idOrPath: string, files: PretrainedFiles, o: HubOptions = {}): Promise<string> {
  if (hasScheme(idOrPath) || !isHubId(idOrPath)) return idOrPath;
  if (await exists(isNode ? idOrPath : joinPath(idOrPath, marker(files)))) return idOrPath;
  if (!isNode) return hubFolderUrl(idOrPath, o);
  // Node only: the cache needs the file system. Reached only here, never in a browser.
  const { openHubSnapshot } = await import('#platform/hub-cache.js');
  const snap = await openHubSnapshot(idOrPath, o);
  if (files === 'tokenizer') {
    await snap.need(TOKENIZER_FILE);
    await snap.want(TOKENIZER_CONFIG_FILE);
    return snap.dir;
  }
  await snap.need(CONFIG_FILE);
  if (files === 'config' || (await snap.want(WEIGHTS_FILE))) return snap.dir;
  if (await snap.want(WEIGHTS_INDEX_FILE)) {
    for (const shard of await readShardNames(joinPath(snap.dir, WEIGHTS_INDEX_FILE))) await snap.need(shard);
    return snap.dir;
  }
  throw new HubError(
    idOrPath,
    `no weights at revision "${snap.revision}": expected ${WEIGHTS_FILE} or ${WEIGHTS_INDEX_FILE}` +
      (snap.offline ? ' in the cache (offline: the Hub was not asked)' : ' in the repository'),
  );
}
