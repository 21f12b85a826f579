/**
 * `mamba-ts serve` through the official `openai` client: completions and chat, whole and streamed,
 * concurrent requests batched continuously giving each the tokens of a solo generate(), stop
 * strings, end-of-sequence, a disconnect freeing its row, the queue limit (429), the time limit
 * (504), and bad requests answered with OpenAI's 4xx error JSON.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { AutoModelForCausalLM, type AnyCausalLM } from '../src/models/auto.js';
import { AutoTokenizer, PreTrainedTokenizer } from '../src/io/tokenizer.js';
import type { GenerateOptions } from '../src/generation/generate.js';
import { createServer, type MambaServer, type ServeOptions } from '../src/serve/server.js';
import { chatFormatterFor, FALLBACK_CHAT_FORMAT } from '../src/serve/chat-template.js';
import { fixture } from './helpers.js';
import { liveTensorCount } from '../src/tensor/memory.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BUNDLED = resolve(ROOT, 'models/mamba-shakespeare');
const CLI = resolve(ROOT, 'dist/src/cli/main.js');
const NAME = 'shakespeare';

let model: AnyCausalLM;
let tokenizer: PreTrainedTokenizer;
const servers: MambaServer[] = [];

before(async () => {
  model = await AutoModelForCausalLM.fromPretrained(BUNDLED);
  tokenizer = await AutoTokenizer.fromPretrained(BUNDLED);
});
after(async () => {
  for (const s of servers) await s.close();
  model.dispose();
});

async function start(o: Partial<ServeOptions> = {}) {
  const server = createServer({ model, tokenizer, modelName: NAME, ...o });
  servers.push(server);
  const { port } = await server.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${port}`;
  const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 });
  return { server, base, client };
}

/** The text a solo generate() gives: the reference every served sequence must equal. */
async function soloText(m: AnyCausalLM, tok: { decode(ids: number[], o: { skipSpecialTokens: boolean }): string }, prompt: number[], o: GenerateOptions, eos: number[] = []): Promise<{ text: string; tokens: number }> {
  const out = (await m.generate([prompt], { eosTokenId: eos.length ? eos : null, ...o }))[0]!.slice(prompt.length);
  const end = out.findIndex((id) => eos.includes(id));
  const kept = end < 0 ? out : out.slice(0, end);
  return { text: tok.decode(kept, { skipSpecialTokens: true }), tokens: end < 0 ? out.length : end + 1 };
}

/** A Prometheus sample's value from /metrics text (0 when absent). */
function sample(metrics: string, series: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

async function health(base: string): Promise<{ active: number; queued: number; batching: string }> {
  return (await (await fetch(`${base}/health`)).json()) as { active: number; queued: number; batching: string };
}

/** Polls /health until `ok` (the loop yields between polls; bounded so a failure is reported, not hung). */
async function until(base: string, ok: (h: { active: number; queued: number }) => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (ok(await health(base))) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.fail(`never: ${what} (${JSON.stringify(await health(base))})`);
}

/** Until every server's batch is empty (bounded, so a failure is reported, not hung). */
async function allIdle(): Promise<void> {
  for (let i = 0; i < 2000 && servers.some((s) => s.scheduler.activeCount + s.scheduler.queuedCount > 0); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(servers.every((s) => s.scheduler.activeCount === 0), 'every server went idle');
}

describe('serve: OpenAI endpoints', () => {
  test('models, health and a greedy completion equal to generate()', async () => {
    const { client, base } = await start();
    const models = await client.models.list();
    assert.deepEqual(models.data.map((m) => m.id), [NAME]);
    assert.equal((await client.models.retrieve(NAME)).object, 'model');
    const h = await health(base);
    assert.equal(h.batching, 'continuous');

    const prompt = 'ROMEO:\n';
    const r = await client.completions.create({ model: NAME, prompt, max_tokens: 30, temperature: 0 });
    const want = await soloText(model, tokenizer, tokenizer.encode(prompt), { maxNewTokens: 30 });
    assert.equal(r.object, 'text_completion');
    assert.match(r.id, /^cmpl-/);
    assert.equal(r.model, NAME);
    assert.equal(r.choices.length, 1);
    assert.equal(r.choices[0]!.text, want.text);
    assert.equal(r.choices[0]!.finish_reason, 'length');
    assert.equal(r.choices[0]!.logprobs, null);
    assert.deepEqual(r.usage, { prompt_tokens: tokenizer.encode(prompt).length, completion_tokens: 30, total_tokens: tokenizer.encode(prompt).length + 30 });

    const echoed = await client.completions.create({ model: NAME, prompt, max_tokens: 30, temperature: 0, echo: true });
    assert.equal(echoed.choices[0]!.text, prompt + want.text);
    const byIds = await client.completions.create({ model: NAME, prompt: tokenizer.encode(prompt), max_tokens: 30, temperature: 0 });
    assert.equal(byIds.choices[0]!.text, want.text);
  });

  test('chat: fallback format, whole and streamed; the stream concatenates to the whole text', async () => {
    const { client } = await start();
    const messages = [
      { role: 'system' as const, content: 'Speak in verse.' },
      { role: 'user' as const, content: 'Who goes there?' },
    ];
    const prompt = FALLBACK_CHAT_FORMAT.format(messages);
    assert.equal(prompt, 'system: Speak in verse.\nuser: Who goes there?\nassistant:');
    const want = await soloText(model, tokenizer, tokenizer.encode(prompt), { maxNewTokens: 25 });
    const r = await client.chat.completions.create({ model: NAME, messages, max_tokens: 25, temperature: 0 });
    assert.equal(r.object, 'chat.completion');
    assert.match(r.id, /^chatcmpl-/);
    assert.equal(r.choices[0]!.message.role, 'assistant');
    assert.equal(r.choices[0]!.message.content, want.text);
    assert.equal(r.choices[0]!.finish_reason, 'length');
    assert.equal(r.usage!.completion_tokens, 25);

    const stream = await client.chat.completions.create({ model: NAME, messages, max_completion_tokens: 25, temperature: 0, stream: true, stream_options: { include_usage: true } });
    let text = '';
    const roles: string[] = [];
    const finishes: (string | null)[] = [];
    let usage: OpenAI.CompletionUsage | null | undefined;
    const ids = new Set<string>();
    for await (const chunk of stream) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      ids.add(chunk.id);
      if (chunk.usage) usage = chunk.usage;
      for (const c of chunk.choices) {
        if (c.delta.role) roles.push(c.delta.role);
        text += c.delta.content ?? '';
        finishes.push(c.finish_reason);
      }
    }
    assert.equal(text, want.text);
    assert.equal(ids.size, 1, 'every chunk carries the response id');
    assert.deepEqual(roles, ['assistant']);
    assert.equal(finishes.at(-1), 'length');
    assert.ok(finishes.slice(0, -1).every((f) => f === null));
    assert.equal(usage?.completion_tokens, 25);

    const cstream = await client.completions.create({ model: NAME, prompt: 'JULIET:', max_tokens: 20, temperature: 0, stream: true });
    let ctext = '';
    let last: string | null = null;
    for await (const chunk of cstream) {
      ctext += chunk.choices[0]?.text ?? '';
      last = chunk.choices[0]?.finish_reason ?? last;
    }
    assert.equal(ctext, (await soloText(model, tokenizer, tokenizer.encode('JULIET:'), { maxNewTokens: 20 })).text);
    assert.equal(last, 'length');
  });

  test('concurrent requests are batched continuously and each gets the tokens of a solo generate()', async () => {
    const { client, base } = await start({ maxConcurrent: 4 });
    const cases: { prompt: string; max: number; req: Record<string, number>; gen: GenerateOptions }[] = [
      { prompt: 'KING HENRY:\n', max: 40, req: { temperature: 0 }, gen: {} },
      { prompt: 'A', max: 12, req: { temperature: 0.9, seed: 1 }, gen: { doSample: true, temperature: 0.9, seed: 1 } },
      { prompt: 'First Citizen:\nBefore we proceed', max: 33, req: { temperature: 0.7, top_k: 5, seed: 2 }, gen: { doSample: true, temperature: 0.7, topK: 5, seed: 2 } },
      { prompt: 'O', max: 20, req: { temperature: 1.2, top_p: 0.9, seed: 3 }, gen: { doSample: true, temperature: 1.2, topP: 0.9, seed: 3 } },
      { prompt: 'What say you', max: 27, req: { temperature: 1, min_p: 0.1, seed: 4 }, gen: { doSample: true, temperature: 1, minP: 0.1, seed: 4 } },
      { prompt: 'GLOUCESTER:', max: 18, req: { temperature: 0, repetition_penalty: 1.3 }, gen: { repetitionPenalty: 1.3 } },
      { prompt: 'To be', max: 9, req: { temperature: 0 }, gen: {} },
    ];
    const served = await Promise.all(
      cases.map((c) => client.completions.create({ model: NAME, prompt: c.prompt, max_tokens: c.max, ...(c.req as { temperature: number }) })),
    );
    for (const [i, c] of cases.entries()) {
      const want = await soloText(model, tokenizer, tokenizer.encode(c.prompt), { maxNewTokens: c.max, ...c.gen });
      assert.equal(served[i]!.choices[0]!.text, want.text, `request ${i} (${JSON.stringify(c.req)})`);
      assert.equal(served[i]!.usage!.completion_tokens, c.max);
    }
    const metrics = await (await fetch(`${base}/metrics`)).text();
    const steps = sample(metrics, 'mamba_ts_decode_batch_size_count');
    const single = sample(metrics, 'mamba_ts_decode_batch_size_bucket{le="1"}');
    assert.ok(steps - single > 0, `some steps decoded several rows at once (${steps} steps, ${single} of one row)`);
    assert.ok(sample(metrics, 'mamba_ts_decode_batch_size_bucket{le="2"}') < steps, 'some steps had more than 2 rows');
    assert.equal(sample(metrics, 'mamba_ts_generated_tokens_total'), cases.reduce((s, c) => s + c.max, 0));
    assert.equal(sample(metrics, 'mamba_ts_time_to_first_token_seconds_count'), cases.length);
    assert.equal(sample(metrics, 'mamba_ts_sequences_total{reason="length"}'), cases.length);
  });

  test('stop strings end the text before them (finish_reason stop), whole and streamed', async () => {
    const { client } = await start();
    const prompt = 'ROMEO:\n';
    const full = (await soloText(model, tokenizer, tokenizer.encode(prompt), { maxNewTokens: 60 })).text;
    const stop = full.slice(8, 11); // a piece from the middle of the greedy text
    const cut = full.slice(0, full.indexOf(stop));
    const r = await client.completions.create({ model: NAME, prompt, max_tokens: 60, temperature: 0, stop: [stop, 'zzzz'] });
    assert.equal(r.choices[0]!.text, cut);
    assert.equal(r.choices[0]!.finish_reason, 'stop');
    assert.ok(r.usage!.completion_tokens < 60);
    const s = await client.completions.create({ model: NAME, prompt, max_tokens: 60, temperature: 0, stop, stream: true });
    let text = '';
    let finish: string | null = null;
    for await (const chunk of s) {
      text += chunk.choices[0]?.text ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(text, cut, 'the stream never sends a prefix of the stop string it then removes');
    assert.equal(finish, 'stop');
  });

  test("the end-of-sequence id ends a sequence (finish_reason stop, the id's text left out)", async () => {
    const newline = tokenizer.encode('\n')[0]!;
    const withEos = Object.assign(Object.create(tokenizer) as PreTrainedTokenizer, { eosTokenId: newline });
    const { client } = await start({ tokenizer: withEos });
    const prompt = 'ROMEO:\n';
    const want = await soloText(model, tokenizer, tokenizer.encode(prompt), { maxNewTokens: 100 }, [newline]);
    assert.ok(want.tokens < 100, 'the greedy text has a newline');
    const r = await client.completions.create({ model: NAME, prompt, max_tokens: 100, temperature: 0 });
    assert.equal(r.choices[0]!.text, want.text);
    assert.equal(r.choices[0]!.finish_reason, 'stop');
    assert.equal(r.usage!.completion_tokens, want.tokens);
  });
});

describe('serve: limits, cancellation and errors', () => {
  test('a client that disconnects mid-stream frees its row', async () => {
    const { client, base } = await start({ maxConcurrent: 2 });
    await allIdle(); // rows of earlier tests' finished sequences leave at their servers' next boundary
    const live = liveTensorCount();
    const stream = await client.completions.create({ model: NAME, prompt: 'ROMEO:', max_tokens: 512, temperature: 0, stream: true });
    let chunks = 0;
    for await (const _ of stream) {
      if (++chunks === 3) break; // leaving the loop aborts the request
    }
    await until(base, (h) => h.active === 0, 'the row was freed');
    assert.equal(liveTensorCount(), live, "the sequence's state was freed");
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.equal(sample(metrics, 'mamba_ts_sequences_total{reason="cancelled"}'), 1);
    assert.equal(sample(metrics, 'mamba_ts_active_sequences'), 0);
    assert.ok(sample(metrics, 'mamba_ts_generated_tokens_total') < 512);
    // The server goes on serving.
    const r = await client.completions.create({ model: NAME, prompt: 'A', max_tokens: 3, temperature: 0 });
    assert.equal(r.usage!.completion_tokens, 3);
  });

  test('a full queue answers 429 with a Retry-After; queued requests run once a row is free', async () => {
    const { client, base } = await start({ maxConcurrent: 1, maxQueue: 1 });
    const running = await client.completions.create({ model: NAME, prompt: 'ROMEO:', max_tokens: 512, temperature: 0, stream: true });
    const it = running[Symbol.asyncIterator]();
    await it.next(); // it holds the only row
    const queued = client.completions.create({ model: NAME, prompt: 'A', max_tokens: 4, temperature: 0 });
    await until(base, (h) => h.queued === 1, 'the second request waits in the queue');
    await assert.rejects(
      client.completions.create({ model: NAME, prompt: 'B', max_tokens: 4, temperature: 0 }),
      (e: unknown) => {
        assert.ok(e instanceof OpenAI.RateLimitError, String(e));
        assert.equal(e.status, 429);
        assert.equal(e.code, 'queue_full');
        assert.equal(e.headers?.get('retry-after'), '1');
        return true;
      },
    );
    running.controller.abort();
    const r = await queued;
    assert.equal(r.usage!.completion_tokens, 4);
  });

  test('a request past the time limit gets 504, and its row is freed', async () => {
    const { base } = await start({ timeoutMs: 1 });
    const res = await fetch(`${base}/v1/completions`, { method: 'POST', body: JSON.stringify({ model: NAME, prompt: 'ROMEO:', max_tokens: 512 }) });
    assert.equal(res.status, 504);
    const body = (await res.json()) as { error: { code: string; type: string } };
    assert.equal(body.error.code, 'timeout');
    await until(base, (h) => h.active === 0 && h.queued === 0, 'the row was freed');
  });

  test('bad requests get 4xx with OpenAI error JSON; the client raises its typed errors', async () => {
    const { client, base } = await start({ maxTokens: 64, maxPromptTokens: 50, maxBodyBytes: 4096 });
    const post = (path: string, body: string, method = 'POST') => fetch(`${base}${path}`, { method, body: method === 'GET' ? undefined : body });
    const cases: [string, string, number, string | null, string | null][] = [
      ['/v1/completions', '{"model": "shakespeare", "prompt": ', 400, 'invalid_json', null],
      ['/v1/completions', '[1, 2]', 400, 'invalid_body', null],
      ['/v1/completions', JSON.stringify({ model: NAME }), 400, 'invalid_type', 'prompt'],
      ['/v1/completions', JSON.stringify({ model: NAME, prompt: 'A', temperature: 'hot' }), 400, 'invalid_type', 'temperature'],
      ['/v1/completions', JSON.stringify({ model: NAME, prompt: 'A', temperature: 3 }), 400, 'invalid_type', 'temperature'],
      ['/v1/completions', JSON.stringify({ model: NAME, prompt: 'A', max_tokens: 1.5 }), 400, 'invalid_type', 'max_tokens'],
      ['/v1/completions', JSON.stringify({ model: NAME, prompt: 'A', max_tokens: 65 }), 400, 'max_tokens_too_large', 'max_tokens'],
      ['/v1/completions', JSON.stringify({ model: NAME, prompt: 'A', n: 2 }), 400, 'unsupported_parameter', 'n'],
      ['/v1/completions', JSON.stringify({ model: NAME, prompt: 'A', logprobs: 2 }), 400, 'unsupported_parameter', 'logprobs'],
      ['/v1/completions', JSON.stringify({ model: NAME, prompt: 'A', stop: [1] }), 400, 'invalid_type', 'stop'],
      ['/v1/completions', JSON.stringify({ model: NAME, prompt: 'A', bogus: 1 }), 400, 'unknown_parameter', 'bogus'],
      ['/v1/completions', JSON.stringify({ model: NAME, prompt: 'A', stream_options: { include_usage: true } }), 400, 'invalid_value', 'stream_options'],
      ['/v1/completions', JSON.stringify({ model: NAME, prompt: ['A', 'B'] }), 400, 'unsupported_parameter', 'prompt'],
      ['/v1/completions', JSON.stringify({ model: NAME, prompt: [1, 2, 9999] }), 400, 'invalid_value', 'prompt'],
      ['/v1/completions', JSON.stringify({ model: NAME, prompt: '' }), 400, 'empty_prompt', 'prompt'],
      ['/v1/completions', JSON.stringify({ model: NAME, prompt: 'x'.repeat(51) }), 400, 'context_length_exceeded', 'prompt'],
      ['/v1/completions', JSON.stringify({ model: 'gpt-4', prompt: 'A' }), 404, 'model_not_found', 'model'],
      ['/v1/completions', JSON.stringify({ model: NAME, prompt: 'x'.repeat(5000) }), 413, 'request_too_large', null],
      ['/v1/chat/completions', JSON.stringify({ model: NAME, messages: [] }), 400, 'invalid_type', 'messages'],
      ['/v1/chat/completions', JSON.stringify({ model: NAME, messages: [{ role: 'wizard', content: 'hi' }] }), 400, 'invalid_type', 'messages[0].role'],
      ['/v1/chat/completions', JSON.stringify({ model: NAME, messages: [{ role: 'user', content: [{ type: 'image_url' }] }] }), 400, 'unsupported_content', 'messages[0].content'],
      ['/v1/chat/completions', JSON.stringify({ model: NAME, messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function' }] }), 400, 'unsupported_parameter', 'tools'],
      ['/v1/nothing', '{}', 404, 'not_found', null],
    ];
    for (const [path, body, status, code, param] of cases) {
      const res = await post(path, body);
      assert.equal(res.status, status, `${path} ${body.slice(0, 80)}`);
      assert.match(res.headers.get('content-type') ?? '', /application\/json/);
      const json = (await res.json()) as { error: { message: string; type: string; param: string | null; code: string | null } };
      assert.deepEqual(Object.keys(json.error).sort(), ['code', 'message', 'param', 'type'], body);
      assert.equal(json.error.code, code, body.slice(0, 80));
      assert.equal(json.error.param, param, body.slice(0, 80));
      assert.equal(json.error.type, status === 404 || status === 400 || status === 413 ? 'invalid_request_error' : json.error.type);
      assert.ok(json.error.message.length > 0);
    }
    const wrongMethod = await post('/v1/completions', '', 'GET');
    assert.equal(wrongMethod.status, 405);
    await assert.rejects(client.completions.create({ model: NAME, prompt: 'A', n: 3 }), (e: unknown) => e instanceof OpenAI.BadRequestError && e.param === 'n');
    await assert.rejects(client.chat.completions.create({ model: 'other', messages: [{ role: 'user', content: 'hi' }] }), (e: unknown) => e instanceof OpenAI.NotFoundError);
    // None of that reached the model.
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.equal(sample(metrics, 'mamba_ts_generated_tokens_total'), 0);
    assert.ok(sample(metrics, 'mamba_ts_requests_total{endpoint="/v1/completions",status="400"}') >= 15);
  });
});

describe('serve: chat templates, Jamba, the CLI', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'mamba-ts-serve-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  test("a folder's chat template formats chat requests (tokenizer_config.json, chat_template.jinja, named lists)", async () => {
    const dir = join(tmp, 'templated');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir);
    copyFileSync(join(BUNDLED, 'tokenizer.json'), join(dir, 'tokenizer.json'));
    const template = "{% for m in messages %}{% if m.role == 'user' %}{{ m.content | upper }}:\n{% else %}{{ m.content }}\n{% endif %}{% endfor %}{% if add_generation_prompt %}{{ bos_token }}{% endif %}";
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ chat_template: [{ name: 'other', template: 'x' }, { name: 'default', template }], bos_token: { content: 'ROMEO:\n' } }));
    const chat = await chatFormatterFor(dir);
    assert.equal(chat.kind, 'template');
    const messages = [{ role: 'user', content: 'juliet' }];
    assert.equal(chat.format(messages), 'JULIET:\nROMEO:\n');

    const { client } = await start({ chat });
    const r = await client.chat.completions.create({ model: NAME, messages: [{ role: 'user', content: 'juliet' }], max_tokens: 15, temperature: 0 });
    assert.equal(r.choices[0]!.message.content, (await soloText(model, tokenizer, tokenizer.encode('JULIET:\nROMEO:\n'), { maxNewTokens: 15 })).text);

    writeFileSync(join(dir, 'chat_template.jinja'), "{% if messages | length > 1 %}{{ raise_exception('one message only') }}{% endif %}{{ messages[0].content }}");
    const jinja = await chatFormatterFor(dir);
    assert.equal(jinja.format(messages), 'juliet');
    const { base } = await start({ chat: jinja });
    const res = await fetch(`${base}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: NAME, messages: [...messages, ...messages] }) });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { error: { message: string } }).error.message, /one message only/);

    writeFileSync(join(dir, 'chat_template.jinja'), '{% for %}');
    await assert.rejects(chatFormatterFor(dir), /chat_template\.jinja: the chat template does not parse/);
    assert.equal((await chatFormatterFor(BUNDLED)).kind, 'fallback');
  });

  test('Jamba (KV cache per sequence) is served one sequence per step, each equal to a solo generate()', async () => {
    const jamba = await AutoModelForCausalLM.fromPretrained(fixture('hf/jamba-tiny/model'));
    try {
      // A one-character-per-token tokenizer over the fixture's 512 ids.
      const vocab: Record<string, number> = {};
      for (let i = 0; i < jamba.vocabSize; i++) vocab[String.fromCodePoint(0x100 + i)] = i;
      const shakespeare = JSON.parse(readFileSync(join(BUNDLED, 'tokenizer.json'), 'utf8')) as { model: Record<string, unknown> };
      const tok = PreTrainedTokenizer.fromJSON({ ...shakespeare, model: { ...shakespeare.model, vocab } });
      const { client, base } = await start({ model: jamba, tokenizer: tok, maxConcurrent: 3 });
      assert.equal((await health(base)).batching, 'sequential');
      const prompts = [[5, 6, 7, 8], [100], [300, 301, 9, 10, 11, 12, 13]];
      const opts = [{ req: { temperature: 0 }, gen: {} }, { req: { temperature: 0.8, seed: 5 }, gen: { doSample: true, temperature: 0.8, seed: 5 } }, { req: { temperature: 0 }, gen: {} }];
      const served = await Promise.all(prompts.map((p, i) => client.completions.create({ model: NAME, prompt: p, max_tokens: 12, ...opts[i]!.req })));
      for (const [i, p] of prompts.entries()) {
        const want = await soloText(jamba, tok, p, { maxNewTokens: 12, ...opts[i]!.gen }, [2]);
        assert.equal(served[i]!.choices[0]!.text, want.text, `request ${i}`);
        assert.equal(served[i]!.usage!.completion_tokens, want.tokens);
      }
    } finally {
      jamba.dispose();
    }
  });

  test('mamba-ts serve listens, answers, and exits cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--max-concurrent', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (d: string) => {
        stderr += d;
        const m = /(http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(stderr);
        if (m) resolve(m[1]!);
      });
      child.on('exit', () => reject(new Error(`exited early: ${stderr}`)));
    });
    assert.match(stderr, /device: cpu/);
    assert.match(stderr, /serving 'mamba-shakespeare' \(continuous batching, up to 2 at once/);
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const r = await client.completions.create({ model: 'mamba-shakespeare', prompt: 'ROMEO:', max_tokens: 5 });
    assert.equal(r.usage!.completion_tokens, 5);
    const code = await new Promise<number | null>((resolve) => {
      child.on('exit', (c) => resolve(c));
      child.kill('SIGTERM');
    });
    assert.equal(code, 0, stderr);
  });
});
