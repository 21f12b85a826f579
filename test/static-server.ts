/** A static file server on 127.0.0.1 (random port) for browser tests: URL prefixes mapped to folders. */
import { readFile, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, resolve, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.map': 'application/json',
  '.json': 'application/json',
  '.safetensors': 'application/octet-stream',
};

export interface StaticServer {
  origin: string;
  close(): Promise<void>;
}

/** The file for a URL path, or undefined when no prefix matches or the path would leave its folder. */
function fileFor(routes: Record<string, string>, path: string): string | undefined {
  for (const [prefix, root] of Object.entries(routes)) {
    if (!path.startsWith(prefix)) continue;
    const rest = decodeURIComponent(path.slice(prefix.length)) || 'index.html';
    const file = resolve(root, rest);
    return file.startsWith(root + sep) ? file : undefined;
  }
  return undefined;
}

/** Headers that make a page cross-origin isolated (SharedArrayBuffer, hence the CPU kernels' threads). */
const ISOLATION_HEADERS = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };

/**
 * Serves each `routes` prefix (e.g. '/models/tiny/') from its folder; HEAD and GET only. With
 * `crossOriginIsolated`, every response carries COOP/COEP headers.
 */
export async function startStaticServer(routes: Record<string, string>, o: { crossOriginIsolated?: boolean } = {}): Promise<StaticServer> {
  const server: Server = createServer((req, res) => {
    void (async () => {
      const file = fileFor(routes, new URL(req.url ?? '/', 'http://x').pathname);
      if (!file || !(await stat(file).then((s) => s.isFile(), () => false))) {
        res.writeHead(404).end();
        return;
      }
      const body = await readFile(file);
      res.writeHead(200, {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'content-length': body.byteLength,
        ...(o.crossOriginIsolated ? ISOLATION_HEADERS : {}),
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    })().catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(e));
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', ok);
  });
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
