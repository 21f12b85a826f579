/**
 * Load test of `mamba-ts serve` on 127.0.0.1: starts the server (the CLI, in a child process, so
 * that clients and server do not share an event loop), then for each concurrency level runs that
 * many clients, each sending streamed completions one after the other until the level's requests
 * are done. Prints one JSON line per level: generated tokens/s over all sequences, p50/p99 latency
 * and time to first token, errors, and the server's resident memory before and after the level.
 *
 *   npm run bench:serve -- --concurrency 1,8,64 --requests 200 --max-tokens 64 [--device webgpu] [--model DIR]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = resolve(ROOT, 'dist/src/cli/main.js');

const { values: args } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '1,8,64' },
    requests: { type: 'string', default: '200' },
    'max-tokens': { type: 'string', default: '64' },
    'max-concurrent': { type: 'string' },
    device: { type: 'string', default: 'cpu' },
    model: { type: 'string' },
    prompt: { type: 'string', default: 'ROMEO:\nWhat light through yonder window breaks?\n' },
  },
});

function positive(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be an integer >= 1, got ${v}`);
  return n;
}
const levels = args.concurrency.split(',').map((v) => positive('concurrency', v));
const requests = positive('requests', args.requests);
const maxTokens = positive('max-tokens', args['max-tokens']);
const maxConcurrent = args['max-concurrent'] ? positive('max-concurrent', args['max-concurrent']) : Math.max(...levels);

/** Resident memory of a process in bytes (Linux /proc), or null where unknown. */
function rss(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

async function startServer(): Promise<{ child: ChildProcess; url: string; model: string }> {
  const flags = ['serve', '--port', '0', '--device', args.device, '--max-concurrent', String(maxConcurrent), '--max-queue', String(Math.max(...levels)), '--max-tokens', String(maxTokens)];
  if (args.model) flags.push('--model', args.model);
  const child = spawn(process.execPath, [CLI, ...flags], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const found = await new Promise<{ url: string; model: string }>((resolveUrl, reject) => {
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      stderr += d;
      const m = /(http:\/\/127\.0\.0\.1:\d+)\/v1 serving '([^']+)'/.exec(stderr);
      if (m) resolveUrl({ url: m[1]!, model: m[2]! });
    });
    child.on('exit', (code) => reject(new Error(`the server exited (${code}): ${stderr}`)));
  });
  return { child, ...found };
}

interface Result {
  ok: boolean;
  tokens: number;
  latencyMs: number;
  ttftMs: number | null;
}

/** One streamed completion; tokens from the usage chunk. */
async function one(url: string, model: string, seed: number): Promise<Result> {
  const t0 = performance.now();
  let ttft: number | null = null;
  try {
    const res = await fetch(`${url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, prompt: args.prompt, max_tokens: maxTokens, temperature: 0.8, seed, stream: true, stream_options: { include_usage: true } }),
    });
    if (res.status !== 200 || !res.body) {
      await res.text();
      return { ok: false, tokens: 0, latencyMs: performance.now() - t0, ttftMs: null };
    }
    let buffer = '';
    let tokens = 0;
    let done = false;
    const decoder = new TextDecoder();
    for await (const bytes of res.body) {
      buffer += decoder.decode(bytes as Uint8Array, { stream: true });
      let at: number;
      while ((at = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, at);
        buffer = buffer.slice(at + 2);
        if (!event.startsWith('data: ')) continue;
        const data = event.slice(6);
        if (data === '[DONE]') {
          done = true;
          continue;
        }
        const chunk = JSON.parse(data) as { choices: { text: string }[]; usage?: { completion_tokens: number } | null; error?: unknown };
        if (chunk.error) return { ok: false, tokens, latencyMs: performance.now() - t0, ttftMs: ttft };
        if (ttft === null && chunk.choices[0]?.text) ttft = performance.now() - t0;
        if (chunk.usage) tokens = chunk.usage.completion_tokens;
      }
    }
    return { ok: done, tokens, latencyMs: performance.now() - t0, ttftMs: ttft };
  } catch {
    return { ok: false, tokens: 0, latencyMs: performance.now() - t0, ttftMs: ttft };
  }
}

function percentile(xs: number[], p: number): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! * 10) / 10;
}

const { child, url, model } = await startServer();
try {
  await one(url, model, 0); // warm-up: the first request pays for lazy set-up
  for (const clients of levels) {
    const before = rss(child.pid!);
    let next = 0;
    const results: Result[] = [];
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (next < requests) results.push(await one(url, model, next++));
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const ok = results.filter((r) => r.ok);
    const tokens = ok.reduce((s, r) => s + r.tokens, 0);
    const after = rss(child.pid!);
    const mb = (b: number | null) => (b === null ? null : Math.round((b / 2 ** 20) * 10) / 10);
    console.log(
      JSON.stringify({
        bench: 'serve-load',
        device: args.device,
        model,
        concurrency: clients,
        max_concurrent: maxConcurrent,
        requests,
        max_tokens: maxTokens,
        errors: results.length - ok.length,
        tokens,
        seconds: Math.round(seconds * 100) / 100,
        tokens_per_s: Math.round((tokens / seconds) * 10) / 10,
        requests_per_s: Math.round((ok.length / seconds) * 100) / 100,
        latency_p50_ms: percentile(ok.map((r) => r.latencyMs), 50),
        latency_p99_ms: percentile(ok.map((r) => r.latencyMs), 99),
        ttft_p50_ms: percentile(ok.flatMap((r) => (r.ttftMs === null ? [] : [r.ttftMs])), 50),
        ttft_p99_ms: percentile(ok.flatMap((r) => (r.ttftMs === null ? [] : [r.ttftMs])), 99),
        rss_before_mb: mb(before),
        rss_after_mb: mb(after),
      }),
    );
  }
} finally {
  child.kill('SIGTERM');
}
