/**
 * `mamba-ts playground`'s server without a browser: it serves the built page, the shipped models
 * and data with cross-origin isolation headers, nothing outside those folders, GET and HEAD only,
 * and a port already taken is an error that says what to do.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { startPlayground, type PlaygroundServer } from '../src/cli/playground-server.js';

let p: PlaygroundServer;
before(async () => {
  p = await startPlayground({ port: 0 });
});
after(async () => {
  await p?.close();
});

/** A raw request (fetch would normalise `..` out of the path before sending it). */
function get(path: string, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const { port } = new URL(p.url);
  return new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => ok({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', fail);
    req.end();
  });
}

test('serves the page, the worker, the models and the ETTh1 sample, cross-origin isolated', async () => {
  assert.match(p.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const page = await get('/');
  assert.equal(page.status, 200);
  assert.match(page.body, /mamba-ts playground/);
  assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(page.headers['cross-origin-opener-policy'], 'same-origin');
  assert.equal(page.headers['cross-origin-embedder-policy'], 'require-corp');
  assert.equal((await get('/worker.js')).headers['content-type'], 'text/javascript; charset=utf-8');
  for (const path of ['/models/mamba-shakespeare/config.json', '/models/selective-copying-s6/results.json', '/models/selective-copying-lti/config.json', '/models/tsm2-etth1-96/config.json']) {
    const r = await get(path);
    assert.equal(r.status, 200, path);
    JSON.parse(r.body);
  }
  const csv = await get('/data/etth1-sample.csv');
  assert.equal(csv.status, 200);
  assert.match(csv.body, /^date,HUFL,HULL,MUFL,MULL,LUFL,LULL,OT\n/);
});

test('nothing outside its folders, no writes', async () => {
  for (const path of ['/../package.json', '/%2e%2e/package.json', '/models/../../package.json', '/models/%2e%2e/%2e%2e/package.json', '/nothing-here.js', '/models/', '/%00']) {
    assert.equal((await get(path)).status, 404, path);
  }
  const post = await get('/', 'POST');
  assert.equal(post.status, 405);
  assert.equal(post.headers['allow'], 'GET, HEAD');
  const head = await get('/', 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
});

test('a port in use is an error naming it and --port', async () => {
  const { port } = new URL(p.url);
  await assert.rejects(startPlayground({ port: Number(port) }), /playground: port \d+ on 127\.0\.0\.1 is in use; pass another with --port/);
});

test('a request target the URL parser rejects gets a 400, and the server keeps serving', async () => {
  const { port } = new URL(p.url);
  const reply = await new Promise<string>((ok, fail) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.write('GET //[ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (text += d));
    socket.on('end', () => ok(text));
    socket.on('error', fail);
  });
  assert.match(reply, /^HTTP\/1\.1 400 /);
  assert.equal((await get('/')).status, 200);
});
