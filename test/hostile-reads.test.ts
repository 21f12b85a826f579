/**
 * Reading files that are not what they claim (issue 14): a shard or config that is a symlink to
 * /dev/zero, a FIFO, a folder, a file far larger than its kind ever is, a URL whose body has no
 * end, and files whose contents must not appear in the error. Every case must fail fast with an
 * error naming the path and what is wrong, and never block or fill memory.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, open, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { FormatError } from '../src/errors.js';
import { readConfig, readWeights } from '../src/io/hf-folder.js';
import { JSON_MAX_BYTES, readJsonObject } from '../src/io/json.js';
import { folderFromFiles } from '../src/io/memory-folder.js';
import { readBytes, readText } from '../src/io/platform.js';
import * as browserFiles from '../src/platform/browser/files.js';
import { fixture } from './helpers.js';

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');
const MODEL = fixture('hf', 'mamba-tiny', 'model');
const SECRET = 'root:x:0:0:root:/root:/bin/bash';
const linux = process.platform === 'linux';

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mamba-ts-hostile-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A fresh folder under the test's temp folder. */
async function folder(name: string): Promise<string> {
  const d = join(dir, name);
  await mkdir(d, { recursive: true });
  return d;
}

/** A model folder with mamba-tiny's config.json, the weights left to each test. */
async function modelFolder(name: string): Promise<string> {
  const d = await folder(name);
  await copyFile(join(MODEL, 'config.json'), join(d, 'config.json'));
  return d;
}

/** A FIFO at `p`, or a reason why none can be made here. */
function makeFifo(p: string): string | undefined {
  if (process.platform === 'win32') return 'Windows has no FIFOs';
  try {
    execFileSync('mkfifo', [p], { stdio: 'ignore' });
    return undefined;
  } catch (e) {
    return `mkfifo failed: ${(e as Error).message}`;
  }
}

/**
 * Settles `p`, or says 'blocked' when it has not settled after a generous while: a guard so that a
 * read that blocks (the defect) fails the test instead of hanging the suite. Timing is not asserted.
 */
async function settleOrBlocked<T>(p: Promise<T>, fifo?: string): Promise<{ value: T } | { error: unknown } | 'blocked'> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<'blocked'>((ok) => (timer = setTimeout(() => ok('blocked'), 15_000)));
  const outcome = await Promise.race([p.then((value) => ({ value }), (error: unknown) => ({ error })), guard]);
  clearTimeout(timer);
  if (outcome === 'blocked' && fifo) {
    // Let a reader stuck in open() go (a writer that closes at once), so the process can exit.
    const w = await open(fifo, 'w').catch(() => undefined);
    await w?.close();
  }
  return outcome;
}

function assertRefused(outcome: Awaited<ReturnType<typeof settleOrBlocked>>, pattern: RegExp): void {
  assert.notEqual(outcome, 'blocked', 'the read blocked');
  assert.ok(typeof outcome === 'object' && 'error' in outcome, `the read succeeded instead of failing with ${pattern}`);
  const e = outcome.error;
  assert.ok(e instanceof Error, `a non-Error was thrown: ${String(e)}`);
  assert.match(e.message, pattern);
}

describe('local files that are not regular files', () => {
  test('a shard linked to /dev/zero is refused by name, not read until memory runs out', { skip: linux && existsSync('/dev/zero') ? false : 'needs /dev/zero' }, async () => {
    const d = await modelFolder('dev-zero');
    await symlink('/dev/zero', join(d, 'model.safetensors'));
    const path = join(d, 'model.safetensors');
    const outcome = await settleOrBlocked(readWeights(d));
    assertRefused(outcome, new RegExp(`^${escape(path)}: is a symbolic link to a character device, not a regular file`));
    assert.ok((outcome as { error: unknown }).error instanceof FormatError);
    // config.json and any JSON the library reads go the same way.
    const c = await folder('dev-zero-config');
    await symlink('/dev/zero', join(c, 'config.json'));
    assertRefused(await settleOrBlocked(readConfig(c)), /config\.json: is a symbolic link to a character device/);
  });

  test('a FIFO as a shard, config.json or CSV fails at once instead of waiting for a writer', async (t) => {
    const d = await modelFolder('fifo');
    const shard = join(d, 'model.safetensors');
    const why = makeFifo(shard);
    if (why) return t.skip(why);
    assertRefused(await settleOrBlocked(readWeights(d), shard), new RegExp(`^${escape(shard)}: is a FIFO \\(named pipe\\), not a regular file`));
    const c = await folder('fifo-config');
    makeFifo(join(c, 'config.json'));
    assertRefused(await settleOrBlocked(readConfig(c), join(c, 'config.json')), /config\.json: is a FIFO/);
    const csv = join(c, 'series.csv');
    makeFifo(csv);
    assertRefused(await settleOrBlocked(readText(csv), csv), /series\.csv: is a FIFO/);
  });

  test('a link to a FIFO is named as such', async (t) => {
    const d = await folder('fifo-link');
    const fifo = join(d, 'pipe');
    const why = makeFifo(fifo);
    if (why) return t.skip(why);
    await symlink(fifo, join(d, 'corpus.txt'));
    assertRefused(await settleOrBlocked(readBytes(join(d, 'corpus.txt')), fifo), /corpus\.txt: is a symbolic link to a FIFO \(named pipe\), not a regular file/);
  });

  test('a folder where a file should be', async () => {
    const d = await modelFolder('folder-shard');
    await mkdir(join(d, 'model.safetensors'));
    await assert.rejects(readWeights(d), (e: Error) => e.message === `${join(d, 'model.safetensors')}: is a folder, expected a file`);
  });

  test('a file that grows while it is read is an error, not a cut-off copy', { skip: linux ? false : 'uses /proc, whose files report size 0' }, async () => {
    // /proc/self/status is a "regular file" of size 0 whose reads return text: the size known
    // before reading is not what the read finds.
    await assert.rejects(readBytes('/proc/self/status'), /\/proc\/self\/status: the file grew while it was read: 0 bytes when opened/);
  });
});

/** A sparse file of `size` bytes: no disk is used, and reading it would take the whole size in memory. */
async function sparseFile(p: string, size: number): Promise<void> {
  const h = await open(p, 'w');
  try {
    await h.truncate(size);
  } finally {
    await h.close();
  }
}

describe('size caps, checked before reading', () => {
  test('readBytes with maxBytes refuses a larger file, naming the path, the size and the cap', async () => {
    const p = join(await folder('cap'), 'big.bin');
    await sparseFile(p, 8 * 2 ** 30);
    await assert.rejects(
      readBytes(p, { maxBytes: 1024, what: 'a test file' }),
      (e: Error) => e instanceof FormatError && e.message === `${p}: 8.00 GiB (8,589,934,592 bytes), more than the 1.00 KiB (1,024 bytes) allowed for a test file`,
    );
    const small = join(dir, 'cap', 'small.bin');
    await writeFile(small, new Uint8Array(1024).fill(7));
    assert.equal((await readBytes(small, { maxBytes: 1024 })).byteLength, 1024, 'a file of exactly the cap is read');
    await assert.rejects(readBytes(small, { maxBytes: -1 }), /maxBytes must be a whole number of bytes >= 0, got -1/);
  });

  test('a config.json of 17 MiB is refused by size, not parsed', async () => {
    const d = await folder('big-config');
    await sparseFile(join(d, 'config.json'), JSON_MAX_BYTES.config + 1024 * 1024);
    await assert.rejects(readConfig(d), /config\.json: 17\.00 MiB \(17,825,792 bytes\), more than the 16\.00 MiB \(16,777,216 bytes\) allowed for a config\.json/);
  });

  test('a shard index over 64 MiB is refused by size', async () => {
    const d = await modelFolder('big-index');
    await sparseFile(join(d, 'model.safetensors.index.json'), JSON_MAX_BYTES.shardIndex + 1);
    await assert.rejects(readWeights(d), /model\.safetensors\.index\.json: 64\.00 MiB \(67,108,865 bytes\), more than the 64\.00 MiB \(67,108,864 bytes\) allowed for a model\.safetensors\.index\.json/);
  });

  test('in-memory folders apply the cap too', async () => {
    const f = folderFromFiles({ 'config.json': new Uint8Array(JSON_MAX_BYTES.config + 1) });
    try {
      await assert.rejects(readConfig(f.path), /config\.json: 16\.00 MiB \(16,777,217 bytes\), more than the 16\.00 MiB/);
    } finally {
      f.release();
    }
  });
});

describe('URLs within a cap', () => {
  let server: Server;
  let origin: string;
  let endlessStopped = false;

  before(async () => {
    server = createServer((req, res) => {
      if (req.url === '/announced') {
        // Announces 2 MiB and sends it: a cap of 1 MiB must refuse it from the header.
        const body = new Uint8Array(2 * 1024 * 1024);
        res.writeHead(200, { 'content-length': String(body.byteLength) });
        res.end(body);
        return;
      }
      if (req.url === '/endless') {
        // No Content-Length and a body that goes on (up to 256 MiB, so a reader without a cap ends).
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const chunk = new Uint8Array(64 * 1024);
        let sent = 0;
        const pump = () => {
          while (sent < 256 * 1024 * 1024) {
            sent += chunk.byteLength;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        res.on('close', () => (endlessStopped = sent < 256 * 1024 * 1024));
        pump();
        return;
      }
      if (req.url === '/short') {
        // Announces more than it sends, then closes: a cut-off download, not a short file.
        res.writeHead(200, { 'content-length': '1000' });
        res.write(new Uint8Array(10));
        setImmediate(() => res.destroy());
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((ok) => server.close(() => ok()));
  });

  test('a Content-Length over the cap is refused from the header', async () => {
    await assert.rejects(
      readBytes(`${origin}/announced`, { maxBytes: 1024 * 1024, what: 'a config.json' }),
      (e: Error) => e instanceof FormatError && e.message === `${origin}/announced: 2.00 MiB (2,097,152 bytes), more than the 1.00 MiB (1,048,576 bytes) allowed for a config.json`,
    );
    assert.equal((await readBytes(`${origin}/announced`, { maxBytes: 2 * 1024 * 1024 })).byteLength, 2 * 1024 * 1024);
    // The browser twin reads "local" paths over HTTP the same way.
    await assert.rejects(browserFiles.readLocalBytes(`${origin}/announced`, { maxBytes: 1024 }), /\/announced: 2\.00 MiB \(2,097,152 bytes\), more than the 1\.00 KiB/);
  });

  test('a body without Content-Length is stopped at the cap', async () => {
    await assert.rejects(
      readBytes(`${origin}/endless`, { maxBytes: 1024 * 1024, what: 'a shard index' }),
      (e: Error) => e instanceof FormatError && /\/endless: more than the 1\.00 MiB \(1,048,576 bytes\) allowed for a shard index \(no size was announced; reading stopped at the limit\)/.test(e.message),
    );
    // The server sees the connection go before it has sent everything.
    for (let i = 0; i < 100 && !endlessStopped; i++) await new Promise((ok) => setTimeout(ok, 20));
    assert.ok(endlessStopped, 'the transfer was cancelled');
  });

  test('a body shorter than its Content-Length is an error naming the URL', async () => {
    await assert.rejects(readBytes(`${origin}/short`), (e: Error) => e.message.startsWith(`${origin}/short: `));
  });
});

describe('errors never quote what a file holds', () => {
  function cli(...args: string[]): { code: number | null; out: string; err: string } {
    // The timeout only keeps a regression (a blocking read) from hanging the suite.
    const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
    return { code: r.status, out: r.stdout, err: r.stderr };
  }

  test('config.json and CLI configs linked to a file of secrets: the error names the file only', async () => {
    const d = await folder('secret');
    const secret = join(d, 'shadow.txt');
    await writeFile(secret, `${SECRET}\ndaemon:x:1:1::/:/usr/sbin/nologin\n`);
    const m = await folder('secret/model');
    await symlink(secret, join(m, 'config.json'));
    await assert.rejects(readConfig(m), (e: Error) => e instanceof FormatError && e.message.startsWith(`${join(m, 'config.json')}: not valid JSON`) && !e.message.includes('root:x'));
    await symlink(secret, join(d, 'config.json'));
    await assert.rejects(readJsonObject(join(d, 'config.json'), { maxBytes: 1024 }), (e: Error) => !e.message.includes('root:x'));
    for (const args of [['info', '--model', join(d, 'config.json')], ['train', '--config', join(d, 'config.json')], ['experiment', '--config', join(d, 'config.json')]]) {
      const r = cli(...args);
      assert.equal(r.code, 1, `${args[0]}: ${r.err}`);
      assert.match(r.err, /config\.json: not valid JSON/, args[0]);
      assert.ok(!r.err.includes('root:x') && !r.out.includes('root:x'), `${args[0]} quoted the file: ${r.err}`);
    }
  });

  test('a config.json nested 10,000 deep: a FormatError naming the file, from the library and from info', async () => {
    const d = await folder('deep');
    const deep = `{"a":${'['.repeat(10_000)}${']'.repeat(10_000)}}`;
    await writeFile(join(d, 'config.json'), deep);
    await assert.rejects(readConfig(d), (e: Error) => e instanceof FormatError && e.message.startsWith(`${join(d, 'config.json')}: not valid JSON for this library: nested more than`));
    const r = cli('info', '--model', join(d, 'config.json'));
    assert.equal(r.code, 1);
    assert.match(r.err, /config\.json: not valid JSON for this library: nested more than \d+ levels deep/);
    assert.ok(!/Maximum call stack/.test(r.err), r.err);
  });

  test('the CLI refuses a FIFO config without blocking', async (t) => {
    const fifo = join(await folder('cli-fifo'), 'train.json');
    const why = makeFifo(fifo);
    if (why) return t.skip(why);
    const r = cli('train', '--config', fifo);
    assert.notEqual(r.code, null, 'the command blocked and was killed');
    assert.equal(r.code, 1);
    assert.match(r.err, /train\.json: is a FIFO \(named pipe\), not a regular file/);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
