/**
 * The playground's HTTP server: the prebuilt page (dist/web, from `npm run build:web`), the shipped
 * models (models/) and data (data/), read-only, on 127.0.0.1. Every response is cross-origin
 * isolated (COOP/COEP), so the page's worker may share memory with the CPU kernels' threads.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArgumentError } from '../errors.js';

/** The package's root: this file is dist/src/cli/playground-server.js. */
const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export const PLAYGROUND_ROUTES: Readonly<Record<string, string>> = {
  '/models/': resolve(PACKAGE_ROOT, 'models'),
  '/data/': resolve(PACKAGE_ROOT, 'data'),
  '/': resolve(PACKAGE_ROOT, 'dist/web'),
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.csv': 'text/csv; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.md': 'text/markdown; charset=utf-8',
  '.wasm': 'application/wasm',
  '.safetensors': 'application/octet-stream',
};

const HEADERS = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-cache',
};

/** The file a URL path names, or undefined when it would leave its folder. */
function fileFor(path: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0')) return undefined;
  for (const [prefix, root] of Object.entries(PLAYGROUND_ROUTES)) {
    if (!decoded.startsWith(prefix)) continue;
    const rest = decoded.slice(prefix.length);
    const file = resolve(root, rest === '' || rest.endsWith('/') ? `${rest}index.html` : rest);
    return file.startsWith(root + sep) ? file : undefined;
  }
  return undefined;
}

export interface PlaygroundServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** Listens on host:port (port 0: any free one); refuses to start without the built page. */
export async function startPlayground(o: { port: number; host?: string }): Promise<PlaygroundServer> {
  const index = resolve(PLAYGROUND_ROUTES['/']!, 'index.html');
  if (!(await stat(index).then((s) => s.isFile(), () => false))) {
    throw new ArgumentError(`playground: ${index} not found; build the page first with npm run build:web (it needs npm run build)`);
  }
  const server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    // Node's parser lets through request targets the URL parser rejects (e.g. "//["): a 400, not a crash.
    let pathname: string;
    try {
      pathname = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    } catch {
      res.writeHead(400, HEADERS).end('bad request target');
      return;
    }
    const file = fileFor(pathname);
    void stat(file ?? '').then(
      (s) => {
        if (!file || !s.isFile()) return void res.writeHead(404, HEADERS).end('not found');
        res.writeHead(200, { ...HEADERS, 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': s.size });
        if (req.method === 'HEAD') return void res.end();
        createReadStream(file)
          .on('error', () => res.destroy())
          .pipe(res);
      },
      () => void res.writeHead(404, HEADERS).end('not found'),
    );
  });
  const host = o.host ?? '127.0.0.1';
  await new Promise<void>((ok, fail) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      fail(e.code === 'EADDRINUSE' ? new ArgumentError(`playground: port ${o.port} on ${host} is in use; pass another with --port (0 picks a free one)`) : e),
    );
    server.listen(o.port, host, ok);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}/`,
    server,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}
