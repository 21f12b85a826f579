/**
 * A HuggingFace Hub on 127.0.0.1 for the Hub-loading tests: the URL scheme and headers the Hub and
 * its clients (huggingface_hub, @huggingface/hub) use.
 *
 * - `GET /api/models/{repo}/revision/{rev}`: the repository's info at a revision, with `sha`.
 * - `GET|HEAD /{repo}/resolve/{rev}/{file}`: a plain file is served directly with its git blob sha1
 *   as ETag; an LFS file (*.safetensors) answers 302 with X-Linked-Etag (its sha256) and
 *   X-Linked-Size, redirecting to `/lfs-objects/{sha256}` on this server (relative Location) or on a
 *   second server, a different origin like the Hub's CDN (absolute Location).
 * - Missing things are 404s with the Hub's X-Error-Code (RepoNotFound, RevisionNotFound,
 *   EntryNotFound); a private repository without its token is a 401 RepoNotFound (404 with a wrong
 *   one), as on the Hub.
 * - Range requests get 206 with Content-Range. Every request is recorded.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeRepo {
  /** Branch or tag → commit hash. */
  refs: Record<string, string>;
  /** Commit hash → file path → contents. */
  commits: Record<string, Record<string, Uint8Array>>;
  /** When set, the repository is private: requests need `Authorization: Bearer <token>`. */
  token?: string;
}

export interface RecordedRequest {
  server: 'hub' | 'cdn';
  method: string;
  url: string;
  range: string | undefined;
  authorization: string | undefined;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
/** git's blob id: what the Hub gives as the ETag of a file not stored with LFS. */
const gitBlobSha1 = (b: Uint8Array) => createHash('sha1').update(`blob ${b.byteLength}\0`).update(b).digest('hex');
const isLfs = (file: string) => file.endsWith('.safetensors');

/** A made-up commit hash (40 hex digits) from a label. */
export function fakeCommit(label: string): string {
  return createHash('sha1').update(label).digest('hex');
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export class FakeHub {
  readonly requests: RecordedRequest[] = [];
  /** LFS files (by name) whose next body transfer is cut off halfway, the socket closed. */
  readonly cutNext = new Set<string>();
  /** Where LFS redirects point: this server (a relative Location) or the CDN server (absolute). */
  lfsRedirect: 'relative' | 'absolute' = 'relative';
  /** sha256 → contents and file name, for /lfs-objects/. */
  private readonly lfsObjects = new Map<string, { bytes: Uint8Array; file: string }>();

  private constructor(
    private readonly repos: Record<string, FakeRepo>,
    private readonly hubServer: Server,
    private readonly cdnServer: Server,
    readonly url: string,
    readonly cdnUrl: string,
  ) {
    for (const repo of Object.values(repos)) {
      for (const files of Object.values(repo.commits)) {
        for (const [file, bytes] of Object.entries(files)) if (isLfs(file)) this.lfsObjects.set(sha256(bytes), { bytes, file });
      }
    }
  }

  static async start(repos: Record<string, FakeRepo>): Promise<FakeHub> {
    let hub: FakeHub | undefined;
    const hubServer = createServer((req, res) => hub!.handle('hub', req, res));
    const cdnServer = createServer((req, res) => hub!.handle('cdn', req, res));
    const [url, cdnUrl] = await Promise.all([listen(hubServer), listen(cdnServer)]);
    hub = new FakeHub(repos, hubServer, cdnServer, url, cdnUrl);
    return hub;
  }

  /** Requests recorded after the first `since`. */
  requestsSince(since: number): RecordedRequest[] {
    return this.requests.slice(since);
  }

  async close(): Promise<void> {
    for (const s of [this.hubServer, this.cdnServer]) {
      s.closeAllConnections();
      await new Promise<void>((ok) => s.close(() => ok()));
    }
  }

  private handle(server: 'hub' | 'cdn', req: IncomingMessage, res: ServerResponse): void {
    this.requests.push({
      server,
      method: req.method ?? 'GET',
      url: req.url ?? '',
      range: req.headers.range,
      authorization: req.headers.authorization,
    });
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const lfs = /^\/lfs-objects\/([0-9a-f]{64})$/.exec(path);
    if (lfs) return this.serveLfsObject(lfs[1]!, req, res);
    if (server === 'cdn') return this.error(res, 404, 'EntryNotFound', 'not an LFS object');
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(path);
    if (api) return this.serveInfo(decodeURIComponent(api[1]!), decodeURIComponent(api[2]!), req, res);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    if (resolve) return this.serveResolve(decodeURIComponent(resolve[1]!), decodeURIComponent(resolve[2]!), decodeURIComponent(resolve[3]!), req, res);
    this.error(res, 404, undefined, 'no such route');
  }

  private error(res: ServerResponse, status: number, code: string | undefined, message: string): void {
    res.writeHead(status, { 'Content-Type': 'application/json', ...(code ? { 'X-Error-Code': code } : {}) });
    res.end(JSON.stringify({ error: message }));
  }

  /** The repository and commit a request names, or undefined after answering with the Hub's error. */
  private lookUp(repoId: string, rev: string, req: IncomingMessage, res: ServerResponse): { repo: FakeRepo; commit: string } | undefined {
    const repo = this.repos[repoId];
    if (repo === undefined) {
      this.error(res, 404, 'RepoNotFound', 'Repository not found');
      return undefined;
    }
    if (repo.token !== undefined && req.headers.authorization !== `Bearer ${repo.token}`) {
      // As the Hub: a private repository looks missing, 401 without a token and 404 with a wrong one.
      this.error(res, req.headers.authorization ? 404 : 401, 'RepoNotFound', 'Repository not found');
      return undefined;
    }
    const commit = repo.refs[rev] ?? (repo.commits[rev] ? rev : undefined);
    if (commit === undefined) {
      this.error(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
      return undefined;
    }
    return { repo, commit };
  }

  private serveInfo(repoId: string, rev: string, req: IncomingMessage, res: ServerResponse): void {
    const found = this.lookUp(repoId, rev, req, res);
    if (!found) return;
    const files = Object.keys(found.repo.commits[found.commit]!);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(
      JSON.stringify({
        _id: fakeCommit(repoId).slice(0, 24),
        id: repoId,
        sha: found.commit,
        private: found.repo.token !== undefined,
        gated: false,
        downloads: 0,
        likes: 0,
        lastModified: '2024-01-01T00:00:00.000Z',
        siblings: files.map((rfilename) => ({ rfilename })),
      }),
    );
  }

  private serveResolve(repoId: string, rev: string, file: string, req: IncomingMessage, res: ServerResponse): void {
    const found = this.lookUp(repoId, rev, req, res);
    if (!found) return;
    const bytes = found.repo.commits[found.commit]![file];
    if (bytes === undefined) return this.error(res, 404, 'EntryNotFound', `${file} does not exist at ${rev}`);
    const common = { 'X-Repo-Commit': found.commit, 'Accept-Ranges': 'bytes' };
    if (isLfs(file)) {
      const oid = sha256(bytes);
      const base = this.lfsRedirect === 'relative' ? '' : this.cdnUrl;
      res.writeHead(302, {
        ...common,
        Location: `${base}/lfs-objects/${oid}`,
        ETag: `"${gitBlobSha1(new TextEncoder().encode(`version https://git-lfs.github.com/spec/v1\noid sha256:${oid}\nsize ${bytes.byteLength}\n`))}"`,
        'X-Linked-Etag': `"${oid}"`,
        'X-Linked-Size': String(bytes.byteLength),
        'Content-Length': '0',
      });
      res.end();
      return;
    }
    this.serveBytes(bytes, `"${gitBlobSha1(bytes)}"`, common, req, res, false);
  }

  private serveLfsObject(oid: string, req: IncomingMessage, res: ServerResponse): void {
    const object = this.lfsObjects.get(oid);
    if (object === undefined) return this.error(res, 404, 'EntryNotFound', 'no such object');
    const cut = this.cutNext.has(object.file);
    this.serveBytes(object.bytes, `"${oid}"`, {}, req, res, cut, () => this.cutNext.delete(object.file));
  }

  /**
   * Serves bytes whole or by Range. `cut`: a transfer of more than one byte sends half the promised
   * body and then closes the connection, as a dropped network does.
   */
  private serveBytes(
    bytes: Uint8Array,
    etag: string,
    headers: Record<string, string>,
    req: IncomingMessage,
    res: ServerResponse,
    cut: boolean,
    onCut?: () => void,
  ): void {
    const size = bytes.byteLength;
    let start = 0;
    let end = size - 1;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (range) {
      start = Number(range[1]);
      end = range[2] === '' ? size - 1 : Math.min(Number(range[2]), size - 1);
      if (start >= size || start > end) {
        res.writeHead(416, { 'Content-Range': `bytes */${size}` });
        res.end();
        return;
      }
    }
    const body = bytes.subarray(start, end + 1);
    res.writeHead(range ? 206 : 200, {
      ...headers,
      ETag: etag,
      'Accept-Ranges': 'bytes',
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(body.byteLength),
      ...(range ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {}),
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    if (cut && body.byteLength > 1) {
      onCut?.();
      res.write(body.subarray(0, body.byteLength >> 1), () => res.socket?.destroy());
      return;
    }
    res.end(body);
  }
}
