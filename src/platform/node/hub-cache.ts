/**
 * NODE ONLY (node:fs, node:crypto, and @huggingface/hub's Node build): reached from hub.ts through a
 * guarded dynamic import, never from the browser entry.
 *
 * Puts a Hub repository's files in HuggingFace's cache, laid out as Python's huggingface_hub lays it
 * out, so that each reuses what the other fetched:
 *
 *   $HF_HUB_CACHE/models--{owner}--{name}/
 *     refs/{revision}             the commit hash the branch or tag named when it was fetched
 *     blobs/{etag}                file contents, named by their ETag (sha256 for LFS files)
 *     blobs/{etag}.incomplete     a download in progress or cut off, resumed by the next call
 *     snapshots/{commit}/{file}   relative symlinks to the blobs
 *     .no_exist/{commit}/{file}   empty markers: the repository has no such file at that commit
 *
 * @huggingface/hub does the transfers (fileDownloadInfo, downloadFile: the Hub's URL scheme, tokens,
 * LFS redirects, Xet storage) and gives the cache location; this file is the glue. The package's own
 * downloadFileToCacheDir is not used: it names a snapshot after the last commit that touched each
 * file rather than the revision's commit, writes no refs/ or .no_exist, reports no progress, cannot
 * resume, and logs to stdout (which `mamba-ts generate` prints text to).
 *
 * A revision is pinned to one commit per load: a branch or tag is looked up once (or read from
 * refs/), and every file is then fetched at that commit, so a model's files never mix commits.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, open, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import {
  HubApiError,
  downloadFile,
  fileDownloadInfo,
  getHFHubCachePath,
  getRepoFolderName,
  modelInfo,
  type FileDownloadInfoOutput,
} from '@huggingface/hub';
import { ArgumentError, HubError } from '../../errors.js';
import { DEFAULT_ENDPOINT, DEFAULT_REVISION, type HubOptions } from '../../io/hub.js';
import type { DownloadProgress } from '../../io/progress.js';
import { writeBytesAtomic } from '../../io/platform.js';
import { whyNotPlainName } from '../../io/inside-folder.js';
import { quoteForMessage } from '../../quote.js';

const COMMIT_HASH = /^[0-9a-f]{40}$/;
const SHA256 = /^[0-9a-f]{64}$/;

/** A repository at one commit, with its files fetched on demand into snapshots/{commit}/. */
export interface HubSnapshot {
  /** The snapshot folder, snapshots/{commit}: what the folder loaders read. */
  readonly dir: string;
  readonly revision: string;
  readonly commit: string;
  /** True when only the cache may be used (localFilesOnly or HF_HUB_OFFLINE). */
  readonly offline: boolean;
  /** Makes sure the repository's `file` is in the snapshot; an error naming it when it cannot. */
  need(file: string): Promise<void>;
  /**
   * Like need, for a file the repository may lack: false when it has none (or, offline, when the
   * cache has no answer either way).
   */
  want(file: string): Promise<boolean>;
}

/** huggingface_hub's reading of boolean environment variables. */
function envFlag(name: string): boolean {
  return ['1', 'ON', 'YES', 'TRUE'].includes((process.env[name] ?? '').trim().toUpperCase());
}

/** huggingface_hub's normalisation: a weak ETag's `W/` and the quotes go. */
function normalizeEtag(etag: string): string {
  return etag.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

/** A path inside the repository (or a revision, which names a file under refs/) must stay inside. */
function checkRelative(what: string, p: string): void {
  if (p === '' || p.startsWith('/') || p.includes('\\') || p.split('/').some((s) => s === '..' || s === '.' || s === '')) {
    throw new ArgumentError(`${what}: expected a relative name without "." or ".." parts, got ${JSON.stringify(p)}`);
  }
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile(); // follows the snapshot symlink: a dangling one is no file
  } catch {
    return false;
  }
}

async function sizeOf(p: string): Promise<number | undefined> {
  try {
    return (await stat(p)).size;
  } catch {
    return undefined;
  }
}

async function sha256Of(p: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(p)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** An error's message with its cause (fetch's "fetch failed" hides the reason there). */
function reason(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = (e as { cause?: unknown }).cause;
  return cause instanceof Error ? `${e.message}: ${cause.message}` : e.message;
}

/** Points snapshots/{commit}/{file} at the blob: a relative symlink, or a copy where there are none. */
async function linkSnapshotFile(blob: string, pointer: string): Promise<void> {
  await mkdir(dirname(pointer), { recursive: true });
  const tmp = `${pointer}.tmp-${process.pid}-${Date.now()}`;
  try {
    await symlink(relative(dirname(pointer), blob), tmp);
  } catch {
    await copyFile(blob, tmp);
  }
  await rename(tmp, pointer);
}

class Snapshot implements HubSnapshot {
  readonly dir: string;

  constructor(
    private readonly repo: string,
    private readonly repoDir: string,
    readonly revision: string,
    readonly commit: string,
    readonly offline: boolean,
    private readonly endpoint: string,
    private readonly token: string | undefined,
    private readonly onProgress: ((p: DownloadProgress) => void) | undefined,
  ) {
    this.dir = join(repoDir, 'snapshots', commit);
  }

  async need(file: string): Promise<void> {
    await this.ensure(file, true);
  }

  want(file: string): Promise<boolean> {
    return this.ensure(file, false);
  }

  private where(file?: string): string {
    const rev = this.revision === this.commit ? `commit ${this.commit}` : `revision "${this.revision}" (commit ${this.commit})`;
    return file === undefined ? rev : `${file} at ${rev}`;
  }

  private absent(file: string, required: boolean): false {
    if (required) throw new HubError(this.repo, `the repository has no file ${this.where(file)}`);
    return false;
  }

  private async ensure(file: string, required: boolean): Promise<boolean> {
    // The name goes into the resolve/ URL unencoded and into the snapshot folder: one that a URL
    // parser or the server would turn into ".." (%2e%2e, ..%2f) could reach another repository.
    const why = whyNotPlainName(file);
    if (why !== undefined) throw new ArgumentError(`file: expected a relative name inside the repository, got ${quoteForMessage(file)} (${why})`);
    const pointer = join(this.dir, file);
    if (await isFile(pointer)) return true;
    const noExist = join(this.repoDir, '.no_exist', this.commit, file);
    if (await isFile(noExist)) return this.absent(file, required);
    if (this.offline) {
      if (!required) return false;
      throw new HubError(this.repo, `${this.where(file)} is not in the cache (${this.dir}), and offline mode (HF_HUB_OFFLINE or localFilesOnly) does not ask the Hub`);
    }
    const info = await hubCall(this.repo, this.endpoint, this.token, this.where(file), () =>
      fileDownloadInfo({ repo: { type: 'model', name: this.repo }, path: file, revision: this.commit, hubUrl: this.endpoint, ...credentials(this.token) }),
    );
    if (info === null) {
      await writeBytesAtomic(noExist, '');
      return this.absent(file, required);
    }
    const etag = normalizeEtag(info.etag);
    // The ETag names a file in blobs/: anything but a plain name (a hash) could point elsewhere.
    if (!/^[A-Za-z0-9._-]+$/.test(etag) || etag.startsWith('.')) {
      throw new HubError(this.repo, `${this.endpoint} gave ${this.where(file)} an ETag that cannot name a cache file: ${quoteForMessage(info.etag)}`);
    }
    const blob = join(this.repoDir, 'blobs', etag);
    if (!(await isFile(blob))) await this.download(file, info, blob);
    await linkSnapshotFile(blob, pointer);
    return true;
  }

  private report(status: DownloadProgress['status'], file: string, loaded: number, total: number): void {
    this.onProgress?.({ status, repo: this.repo, file, loaded, total, progress: total > 0 ? (100 * loaded) / total : 100 });
  }

  /**
   * Downloads into blobs/{etag}.incomplete, appending to what an earlier, cut-off call left there
   * (a Range request), then checks the size (and the sha256, which LFS files are named by) before
   * renaming it to the blob: the final name never holds a partial or corrupt file.
   */
  private async download(file: string, info: FileDownloadInfoOutput, blob: string): Promise<void> {
    const part = `${blob}.incomplete`;
    await mkdir(dirname(blob), { recursive: true });
    let offset = (await sizeOf(part)) ?? 0;
    if (offset > info.size) {
      await rm(part, { force: true });
      offset = 0;
    }
    this.report('download', file, offset, info.size);
    if (info.size === 0) await writeFile(part, new Uint8Array(0));
    if (offset < info.size) {
      const remote = await hubCall(this.repo, this.endpoint, this.token, this.where(file), () =>
        downloadFile({ repo: { type: 'model', name: this.repo }, path: file, revision: this.commit, hubUrl: this.endpoint, downloadInfo: info, ...credentials(this.token) }),
      );
      if (remote === null) throw new HubError(this.repo, `the repository has no file ${this.where(file)}`);
      await this.append(remote.slice(offset).stream(), part, file, offset, info.size);
    }
    const got = (await sizeOf(part)) ?? 0;
    if (got < info.size) {
      throw new HubError(this.repo, `downloading ${this.where(file)} stopped at ${got} of ${info.size} bytes; the part is kept and the next load resumes it`);
    }
    const etag = normalizeEtag(info.etag);
    if (got > info.size || (SHA256.test(etag) && (await sha256Of(part)) !== etag)) {
      await rm(part, { force: true });
      // A resumed download whose first part came from elsewhere (another process, a server that
      // ignored the Range) starts over once; a fresh one that fails the check is an error.
      if (offset > 0) return this.download(file, info, blob);
      throw new HubError(this.repo, `${this.where(file)}: the downloaded bytes do not match the Hub's size and checksum (${got} bytes, expected ${info.size} with sha256 ${etag}); nothing was kept`);
    }
    await rename(part, blob);
    this.report('done', file, info.size, info.size);
  }

  private async append(stream: ReadableStream<Uint8Array>, part: string, file: string, offset: number, total: number): Promise<void> {
    const handle = await open(part, 'a');
    const reader = stream.getReader();
    let loaded = offset;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        await handle.write(value);
        loaded += value.byteLength;
        this.report('progress', file, loaded, total);
      }
    } catch (e) {
      await reader.cancel().catch(() => undefined);
      throw new HubError(this.repo, `downloading ${this.where(file)} failed after ${loaded} of ${total} bytes (${reason(e)}); the part is kept and the next load resumes it`);
    } finally {
      await handle.close();
    }
  }
}

function credentials(token: string | undefined): { accessToken: string } | Record<string, never> {
  return token === undefined ? {} : { accessToken: token };
}

/** Runs a call to the Hub, turning its failures into errors that name the repository and say what to do. */
async function hubCall<T>(repo: string, endpoint: string, token: string | undefined, where: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (e instanceof HubApiError) {
      const s = e.statusCode;
      if (s === 401 || s === 404) {
        const hint = token === undefined
          ? 'check the id (no local folder has that name either) and the revision; a private or gated repository needs an access token (HF_TOKEN or the token option)'
          : 'check the id (no local folder has that name either) and the revision, and that the token (HF_TOKEN or the token option) has access';
        throw new HubError(repo, `not found at ${endpoint} (${where}): ${hint}`, s);
      }
      if (s === 403) {
        throw new HubError(repo, `access denied by ${endpoint} (${where}): a gated repository needs its conditions accepted on the Hub and a token with access (HF_TOKEN or the token option)`, s);
      }
      throw new HubError(repo, `${endpoint} answered HTTP ${s} (${where}): ${e.message}`, s);
    }
    if (e instanceof HubError || e instanceof ArgumentError) throw e;
    throw new HubError(repo, `cannot get ${where} from ${endpoint}: ${reason(e)} (with HF_HUB_OFFLINE=1 only the cache is used)`);
  }
}

/** The commit a revision names: itself, the cached ref, or (online) the Hub's answer, cached in refs/. */
async function resolveCommit(
  repo: string,
  repoDir: string,
  revision: string,
  s: { offline: boolean; refresh: boolean; endpoint: string; token: string | undefined },
): Promise<string> {
  if (COMMIT_HASH.test(revision)) return revision;
  const ref = join(repoDir, 'refs', revision);
  if (s.offline || !s.refresh) {
    const cached = await readFile(ref, 'utf8').catch(() => undefined);
    if (cached !== undefined && COMMIT_HASH.test(cached.trim())) return cached.trim();
  }
  if (s.offline) {
    throw new HubError(repo, `revision "${revision}" is not in the cache (${repoDir}), and offline mode (HF_HUB_OFFLINE or localFilesOnly) does not ask the Hub`);
  }
  const info = await hubCall(repo, s.endpoint, s.token, `revision "${revision}"`, () =>
    modelInfo({ name: repo, revision, hubUrl: s.endpoint, additionalFields: ['sha'], ...credentials(s.token) }),
  );
  const sha = (info as { sha?: unknown }).sha;
  if (typeof sha !== 'string' || !COMMIT_HASH.test(sha)) {
    throw new HubError(repo, `${s.endpoint} gave no commit hash for revision "${revision}" (got ${quoteForMessage(sha)})`);
  }
  await writeBytesAtomic(ref, sha);
  return sha;
}

/** Opens `repo` at the revision the options name, resolving the commit (from the cache when it can). */
export async function openHubSnapshot(repo: string, o: HubOptions): Promise<HubSnapshot> {
  const revision = o.revision ?? DEFAULT_REVISION;
  checkRelative('revision', revision);
  const endpoint = (o.endpoint ?? process.env['HF_ENDPOINT'] ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]/.test(endpoint)) {
    throw new ArgumentError(`endpoint (or HF_ENDPOINT): expected an http(s) URL, got ${JSON.stringify(endpoint)}`);
  }
  const token = (o.token ?? process.env['HF_TOKEN'] ?? process.env['HUGGING_FACE_HUB_TOKEN'])?.trim() || undefined;
  if (token !== undefined && !token.startsWith('hf_')) {
    throw new ArgumentError('token (or HF_TOKEN): a HuggingFace access token starts with "hf_"');
  }
  const offline = o.localFilesOnly === true || envFlag('HF_HUB_OFFLINE');
  const cacheDir = o.cacheDir ?? getHFHubCachePath();
  const repoDir = join(cacheDir, getRepoFolderName({ type: 'model', name: repo }));
  const commit = await resolveCommit(repo, repoDir, revision, { offline, refresh: o.refresh === true, endpoint, token });
  return new Snapshot(repo, repoDir, revision, commit, offline, endpoint, token, o.progressCallback);
}
