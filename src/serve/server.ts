/**
 * `mamba-ts serve`'s HTTP server (Node's http module): OpenAI's /v1/completions and
 * /v1/chat/completions (whole responses, or streamed as server-sent events ending with
 * `data: [DONE]`), /v1/models, /health and Prometheus /metrics. Generation runs on a Scheduler
 * (continuous batching); this file turns requests into its sequences and their tokens back into
 * responses, and enforces the limits: request body size, prompt length, tokens per request, rows of
 * the batch, queue length (429 beyond), and a time limit per request. A client that disconnects
 * cancels its sequence, which frees its row at the next step.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ArgumentError } from '../errors.js';
import type { CausalLM } from '../generation/causal-lm.js';
import { parseJson } from '../io/json.js';
import { FALLBACK_CHAT_FORMAT, type ChatFormatter, type ChatMessage } from './chat-template.js';
import { ServerMetrics } from './metrics.js';
import { parseChatRequest, parseCompletionRequest, RequestError, type GenerationParams, type RequestLimits } from './openai-requests.js';
import * as R from './openai-responses.js';
import { QueueFullError, Scheduler, type SequenceEnd, type SequenceHandle } from './scheduler.js';
import { TextOutput } from './text-output.js';

/** What the server needs of a tokenizer (PreTrainedTokenizer has it). */
export interface ServeTokenizer {
  encode(text: string, o?: { addSpecialTokens?: boolean }): number[];
  decode(ids: readonly number[], o?: { skipSpecialTokens?: boolean }): string;
  readonly eosTokenId: number | undefined;
}

export interface ServeOptions {
  model: CausalLM;
  tokenizer: ServeTokenizer;
  /** The name clients pass as `model` and /v1/models lists (default 'mamba-ts'). */
  modelName?: string;
  /** Chat messages → prompt (default: the fallback `role: content` format; see chat-template.ts). */
  chat?: ChatFormatter;
  /** Sequences decoded together at most (default 16). */
  maxConcurrent?: number;
  /** Requests waiting for a row at most; beyond, 429 (default 4 × maxConcurrent). */
  maxQueue?: number;
  /** max_tokens at most (default 512; also the default of chat requests). */
  maxTokens?: number;
  /** Prompt tokens at most (default 4096). */
  maxPromptTokens?: number;
  /** Request body bytes at most (default 1 MiB). */
  maxBodyBytes?: number;
  /** Time limit per generation request in ms, waiting included (default 300 000; 0: none). */
  timeoutMs?: number;
  /** Shown by /health (e.g. 'cpu', 'webgpu'). */
  device?: string;
}

interface Limits extends RequestLimits {
  maxPromptTokens: number;
  maxBodyBytes: number;
  timeoutMs: number;
}

function positiveInt(name: string, v: number | undefined, fallback: number, min = 1): number {
  if (v === undefined) return fallback;
  if (!Number.isSafeInteger(v) || v < min) throw new ArgumentError(`createServer: ${name} must be an integer >= ${min}, got ${String(v)}`);
  return v;
}

export class MambaServer {
  readonly http: Server;
  readonly scheduler: Scheduler;
  readonly metrics: ServerMetrics;
  private readonly limits: Limits;
  private readonly chat: ChatFormatter;
  private readonly eos: ReadonlySet<number>;
  private readonly started = Math.floor(Date.now() / 1000);
  private closing = false;

  constructor(private readonly o: ServeOptions) {
    const maxConcurrent = positiveInt('maxConcurrent', o.maxConcurrent, 16);
    this.limits = {
      modelName: o.modelName ?? 'mamba-ts',
      maxTokens: positiveInt('maxTokens', o.maxTokens, 512),
      maxPromptTokens: positiveInt('maxPromptTokens', o.maxPromptTokens, 4096),
      maxBodyBytes: positiveInt('maxBodyBytes', o.maxBodyBytes, 1024 * 1024),
      timeoutMs: positiveInt('timeoutMs', o.timeoutMs, 300_000, 0),
    };
    this.chat = o.chat ?? FALLBACK_CHAT_FORMAT;
    // The model's end-of-sequence ids (as generate() uses), else the tokenizer's.
    const eos = o.model.eosTokenId ?? o.tokenizer.eosTokenId ?? null;
    this.eos = new Set(eos === null ? [] : Array.isArray(eos) ? eos : [eos]);
    this.metrics = new ServerMetrics({ active: () => this.scheduler.activeCount, queued: () => this.scheduler.queuedCount, capacity: () => this.scheduler.capacity });
    this.scheduler = new Scheduler(o.model, {
      maxActive: maxConcurrent,
      maxQueued: positiveInt('maxQueue', o.maxQueue, 4 * maxConcurrent, 0),
      onStep: (n) => {
        this.metrics.steps.inc();
        this.metrics.batchSize.observe(n);
      },
    });
    this.http = createHttpServer((req, res) => void this.handle(req, res));
  }

  /** Starts listening (port 0: any free port); resolves to the address. */
  listen(port = 8080, host = '127.0.0.1'): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        resolve(this.http.address() as AddressInfo);
      });
    });
  }

  /** Stops accepting connections, ends every sequence (clients get a 503 or an error event), closes the connections. */
  async close(): Promise<void> {
    this.closing = true;
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    await this.scheduler.close();
    // Every response has ended; idle keep-alive connections go now, the rest once their last bytes
    // had a moment to leave.
    this.http.closeIdleConnections();
    setTimeout(() => this.http.closeAllConnections(), 200).unref();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const received = performance.now();
    const path = (req.url ?? '/').split('?')[0]!;
    const route = ROUTES.get(path) ?? (path.startsWith('/v1/models/') ? '/v1/models/{id}' : 'other');
    res.on('finish', () => this.metrics.requests.inc({ endpoint: route, status: String(res.statusCode) }));
    try {
      const method = req.method ?? 'GET';
      const want = (m: string) => {
        if (method !== m) throw new RequestError(405, `${path} takes ${m}, not ${method}`, null, 'method_not_allowed');
      };
      switch (route) {
        case '/health':
          want('GET');
          return sendJson(res, this.closing ? 503 : 200, {
            status: this.closing ? 'shutting down' : 'ok',
            model: this.limits.modelName,
            device: this.o.device ?? null,
            batching: this.scheduler.decoder.mode,
            active: this.scheduler.activeCount,
            queued: this.scheduler.queuedCount,
            max_concurrent: this.scheduler.capacity,
          });
        case '/metrics':
          want('GET');
          res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
          return void res.end(this.metrics.expose());
        case '/v1/models':
          want('GET');
          return sendJson(res, 200, { object: 'list', data: [R.modelObject(this.limits.modelName, this.started)] });
        case '/v1/models/{id}': {
          want('GET');
          const id = decodeURIComponent(path.slice('/v1/models/'.length));
          if (id !== this.limits.modelName) throw new RequestError(404, `The model '${id.slice(0, 100)}' does not exist`, 'model', 'model_not_found');
          return sendJson(res, 200, R.modelObject(id, this.started));
        }
        case '/v1/completions':
        case '/v1/chat/completions':
          want('POST');
          return await this.generate(route === '/v1/chat/completions' ? 'chat' : 'completion', req, res, received);
        default:
          throw new RequestError(404, `no such endpoint: ${method} ${path.slice(0, 100)}`, null, 'not_found');
      }
    } catch (e) {
      sendError(res, e);
    }
  }

  private async generate(kind: 'completion' | 'chat', req: IncomingMessage, res: ServerResponse, received: number): Promise<void> {
    if (this.closing) throw new RequestError(503, 'the server is shutting down', null, 'shutting_down');
    const raw = parseBody(await readBody(req, this.limits.maxBodyBytes));
    let params: GenerationParams;
    let prompt: number[];
    let echo = '';
    if (kind === 'chat') {
      const r = parseChatRequest(raw, this.limits);
      params = r;
      prompt = this.encode(this.formatChat(r.messages), this.chat.addSpecialTokens, 'messages');
    } else {
      const r = parseCompletionRequest(raw, this.limits);
      params = r;
      prompt = typeof r.prompt === 'string' ? this.encode(r.prompt, true, 'prompt') : r.prompt;
      if (r.echo) echo = typeof r.prompt === 'string' ? r.prompt : this.decodeIds(r.prompt);
    }
    if (prompt.length === 0) throw new RequestError(400, 'the prompt is empty (it has no tokens)', kind === 'chat' ? 'messages' : 'prompt', 'empty_prompt');
    if (prompt.length > this.limits.maxPromptTokens) {
      throw new RequestError(400, `the prompt has ${prompt.length} tokens, more than this server's limit of ${this.limits.maxPromptTokens}`, kind === 'chat' ? 'messages' : 'prompt', 'context_length_exceeded');
    }
    const exchange = new Exchange(kind, res, R.responseHead(kind, this.limits.modelName), params, prompt.length, echo, new TextOutput({ decode: (ids) => this.o.tokenizer.decode(ids, { skipSpecialTokens: true }) }, params.stop), this.metrics, received);
    let handle: SequenceHandle;
    try {
      handle = this.scheduler.submit({
        prompt,
        maxTokens: params.maxTokens,
        sampling: params.sampling,
        eos: this.eos,
        onToken: (id) => exchange.token(id),
        onEnd: (end) => exchange.end(end),
      });
    } catch (e) {
      if (e instanceof QueueFullError) {
        res.setHeader('retry-after', '1');
        throw new RequestError(429, e.message, null, 'queue_full');
      }
      if (e instanceof ArgumentError) throw new RequestError(400, e.message, kind === 'chat' ? 'messages' : 'prompt', 'invalid_value');
      throw e;
    }
    this.metrics.promptTokens.inc({}, prompt.length);
    exchange.begin();
    // A client that goes away before its response ended frees its row at the next step.
    res.on('close', () => {
      if (!res.writableFinished) handle.cancel('client disconnected');
    });
    if (this.limits.timeoutMs > 0) {
      const timer = setTimeout(() => handle.cancel('timeout'), this.limits.timeoutMs);
      exchange.onDone = () => clearTimeout(timer);
    }
  }

  private formatChat(messages: readonly ChatMessage[]): string {
    try {
      return this.chat.format(messages);
    } catch (e) {
      if (e instanceof ArgumentError) throw new RequestError(400, e.message, 'messages', 'invalid_value');
      throw e;
    }
  }

  private encode(text: string, addSpecialTokens: boolean, param: string): number[] {
    try {
      return this.o.tokenizer.encode(text, { addSpecialTokens });
    } catch (e) {
      throw new RequestError(400, `${param}: ${(e as Error).message}`, param, 'invalid_value');
    }
  }

  /** The text of prompt ids (echo); an id the tokenizer does not know is the request's fault. */
  private decodeIds(ids: readonly number[]): string {
    try {
      return this.o.tokenizer.decode(ids, { skipSpecialTokens: true });
    } catch (e) {
      throw new RequestError(400, `prompt: ${(e as Error).message}`, 'prompt', 'invalid_value');
    }
  }
}

const ROUTES = new Map(['/health', '/metrics', '/v1/models', '/v1/completions', '/v1/chat/completions'].map((p) => [p, p]));

/** One generation request's response, whole or streamed, fed by the scheduler's callbacks. */
class Exchange {
  private sentRole = false;
  private firstToken = true;
  onDone: (() => void) | null = null;

  constructor(
    private readonly kind: 'completion' | 'chat',
    private readonly res: ServerResponse,
    private readonly head: R.ResponseHead,
    private readonly params: GenerationParams,
    private readonly promptTokens: number,
    private readonly echo: string,
    private readonly text: TextOutput,
    private readonly metrics: ServerMetrics,
    private readonly received: number,
  ) {}

  /** The request was accepted: a stream's headers go out now. */
  begin(): void {
    if (!this.params.stream) return;
    this.res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    this.res.flushHeaders();
    if (this.echo) this.sendText(this.echo);
  }

  token(id: number): boolean {
    this.metrics.generatedTokens.inc();
    if (this.firstToken) {
      this.firstToken = false;
      this.metrics.timeToFirstToken.observe((performance.now() - this.received) / 1000);
    }
    const stop = this.text.push(id);
    if (this.params.stream && !this.res.destroyed) this.sendText(this.text.take());
    return stop;
  }

  end(e: SequenceEnd): void {
    this.onDone?.();
    if (e.kind === 'finished' && e.reason === 'eos') this.metrics.generatedTokens.inc();
    if (e.generated > 0 && this.firstToken) this.metrics.timeToFirstToken.observe((performance.now() - this.received) / 1000);
    this.metrics.sequences.inc({ reason: e.kind === 'finished' ? e.reason : e.kind === 'failed' ? 'error' : e.reason === 'timeout' ? 'timeout' : 'cancelled' });
    this.res.once('finish', () => this.metrics.latency.observe((performance.now() - this.received) / 1000));
    if (this.res.destroyed) return;
    if (e.kind !== 'finished') return this.fail(e);
    this.text.finish();
    const finish: R.FinishReason = e.reason === 'length' ? 'length' : 'stop';
    const u = R.usage(this.promptTokens, e.generated);
    if (!this.params.stream) {
      const text = this.echo + this.text.full;
      return sendJson(this.res, 200, this.kind === 'chat' ? R.chatCompletion(this.head, text, finish, u) : R.completion(this.head, text, finish, u));
    }
    this.sendText(this.text.take());
    const usageNull = this.params.includeUsage;
    this.event(this.kind === 'chat' ? R.chatChunk(this.head, {}, finish, usageNull) : R.completionChunk(this.head, '', finish, usageNull));
    if (this.params.includeUsage) this.event(R.usageChunk(this.head, this.kind, u));
    this.res.end('data: [DONE]\n\n');
  }

  /** A sequence that did not finish: an error response, or an error event that ends the stream. */
  private fail(e: Exclude<SequenceEnd, { kind: 'finished' }>): void {
    const err =
      e.kind === 'failed'
        ? new RequestError(500, `generation failed: ${e.error.message}`, null, 'generation_failed')
        : e.reason === 'timeout'
          ? new RequestError(504, "the request ran past the server's time limit (--timeout)", null, 'timeout')
          : new RequestError(503, `the request was cancelled: ${e.reason}`, null, 'cancelled');
    if (!this.res.headersSent) return sendError(this.res, err);
    this.event({ error: errorBody(err) });
    this.res.end();
  }

  private sendText(text: string): void {
    if (!text) return;
    if (this.kind === 'completion') return this.event(R.completionChunk(this.head, text, null, this.params.includeUsage));
    const delta = this.sentRole ? { content: text } : { role: 'assistant' as const, content: text };
    this.sentRole = true;
    this.event(R.chatChunk(this.head, delta, null, this.params.includeUsage));
  }

  private event(data: unknown): void {
    this.res.write(`data: ${JSON.stringify(data)}\n\n`);
  }
}

function errorBody(e: RequestError) {
  return { message: e.message, type: e.type, param: e.param, code: e.code };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Any error as OpenAI's error JSON; anything not a RequestError is a 500. */
function sendError(res: ServerResponse, e: unknown): void {
  const err = e instanceof RequestError ? e : new RequestError(500, `internal error: ${e instanceof Error ? e.message : String(e)}`, null, 'internal_error');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // After a refused upload the rest of the body is not read: the connection cannot be reused.
  if (err.status === 413) res.setHeader('connection', 'close');
  sendJson(res, err.status, { error: errorBody(err) });
}

/** The body, refused with 413 past `max` bytes (by its Content-Length at once, else as it arrives). */
function readBody(req: IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const tooLarge = () => new RequestError(413, `the request body is larger than this server's limit of ${max} bytes`, null, 'request_too_large');
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) {
      req.resume(); // drain so that the 413 can be read; the connection closes after it
      return reject(tooLarge());
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.removeAllListeners('data');
        req.resume();
        reject(tooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseBody(text: string): unknown {
  try {
    return parseJson(text, 'the request body');
  } catch (e) {
    throw new RequestError(400, `${(e as Error).message}`, null, 'invalid_json');
  }
}

/** A server for `model` (not yet listening: call listen()). Node only. */
export function createServer(o: ServeOptions): MambaServer {
  return new MambaServer(o);
}
