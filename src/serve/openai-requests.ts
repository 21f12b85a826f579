/**
 * OpenAI request bodies (/v1/completions, /v1/chat/completions) checked and mapped onto the
 * generation options. As the OpenAI API does, a field it does not know is refused ("Unrecognized
 * request argument supplied"), a field of the wrong type is a 400 naming it, and a feature this
 * server does not have (n > 1, logprobs, tools, penalties other than repetition_penalty) is refused
 * by name rather than ignored. Extensions, as vLLM spells them: top_k, min_p, repetition_penalty.
 */
import type { SamplingOptions } from '../generation/logits-process.js';
import type { ChatMessage } from './chat-template.js';

/** An error answered as OpenAI's `{ error: { message, type, param, code } }`. */
export class RequestError extends Error {
  override name = 'RequestError';
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly type = status === 429 ? 'rate_limit_error' : status >= 500 ? 'server_error' : 'invalid_request_error',
  ) {
    super(message);
  }
}

export interface GenerationParams {
  maxTokens: number;
  sampling: SamplingOptions;
  stop: string[];
  stream: boolean;
  /** stream_options.include_usage: a last chunk with the usage and no choices. */
  includeUsage: boolean;
}

export interface CompletionRequest extends GenerationParams {
  /** Text, or token ids. */
  prompt: string | number[];
  echo: boolean;
}

export interface ChatRequest extends GenerationParams {
  messages: ChatMessage[];
}

export interface RequestLimits {
  /** The served model's name: `model` must equal it. */
  modelName: string;
  /** The largest max_tokens allowed (and the default of chat requests). */
  maxTokens: number;
}

type Body = Record<string, unknown>;

/** Fields accepted and without effect here (bookkeeping for OpenAI's platform). */
const IGNORED = ['user', 'metadata', 'store', 'service_tier', 'prompt_cache_key', 'safety_identifier'];
const COMMON = ['model', 'max_tokens', 'temperature', 'top_p', 'top_k', 'min_p', 'repetition_penalty', 'stop', 'seed', 'n', 'stream', 'stream_options', 'frequency_penalty', 'presence_penalty', 'logit_bias', 'logprobs', ...IGNORED];
const COMPLETION_FIELDS = new Set([...COMMON, 'prompt', 'echo', 'suffix', 'best_of']);
const CHAT_FIELDS = new Set([...COMMON, 'messages', 'max_completion_tokens', 'top_logprobs', 'tools', 'tool_choice', 'parallel_tool_calls', 'functions', 'function_call', 'response_format', 'modalities', 'audio', 'prediction', 'reasoning_effort', 'web_search_options']);

const describe = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`);
const bad = (param: string, want: string, v: unknown) => new RequestError(400, `'${param}' must be ${want}, got ${describe(v)}${typeof v === 'number' || typeof v === 'boolean' ? ` (${v})` : ''}`, param, 'invalid_type');

function body(raw: unknown): Body {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new RequestError(400, `the request body must be a JSON object, got ${describe(raw)}`, null, 'invalid_body');
  return raw as Body;
}

function checkFields(b: Body, allowed: ReadonlySet<string>): void {
  for (const k of Object.keys(b)) {
    if (!allowed.has(k)) throw new RequestError(400, `Unrecognized request argument supplied: ${k.length > 64 ? `${k.slice(0, 64)}…` : k}`, k, 'unknown_parameter');
  }
}

const has = (b: Body, k: string) => Object.hasOwn(b, k) && b[k] !== null && b[k] !== undefined;

function number(b: Body, k: string, ok: (x: number) => boolean, want: string): number | undefined {
  if (!has(b, k)) return undefined;
  const v = b[k];
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw bad(k, want, v);
  return v;
}

function integer(b: Body, k: string, ok: (x: number) => boolean, want: string): number | undefined {
  return number(b, k, (x) => Number.isSafeInteger(x) && ok(x), want);
}

function boolean(b: Body, k: string): boolean | undefined {
  if (!has(b, k)) return undefined;
  if (typeof b[k] !== 'boolean') throw bad(k, 'true or false', b[k]);
  return b[k] as boolean;
}

/** A field this server does not implement is accepted only at its neutral value. */
function unsupportedUnless(b: Body, k: string, neutral: (v: unknown) => boolean, what: string): void {
  if (has(b, k) && !neutral(b[k])) throw new RequestError(400, `'${k}' is not supported by this server (${what})`, k, 'unsupported_parameter');
}

function common(b: Body, limits: RequestLimits, defaultMaxTokens: number, maxTokensKey: string): GenerationParams {
  if (typeof b['model'] !== 'string') throw bad('model', 'a string (see GET /v1/models)', b['model']);
  if (b['model'] !== limits.modelName) {
    throw new RequestError(404, `The model '${b['model'].slice(0, 100)}' does not exist; this server serves '${limits.modelName}'`, 'model', 'model_not_found');
  }
  const n = integer(b, 'n', (x) => x >= 1, 'an integer >= 1');
  if (n !== undefined && n > 1) throw new RequestError(400, "'n' > 1 is not supported: send one request per completion", 'n', 'unsupported_parameter');
  const zero = (v: unknown) => v === 0;
  unsupportedUnless(b, 'frequency_penalty', zero, 'only 0; repetition_penalty is');
  unsupportedUnless(b, 'presence_penalty', zero, 'only 0; repetition_penalty is');
  unsupportedUnless(b, 'logit_bias', (v) => typeof v === 'object' && v !== null && Object.keys(v).length === 0, 'only {}');
  unsupportedUnless(b, 'logprobs', (v) => v === false || v === 0, 'log probabilities are not returned');

  const cap = limits.maxTokens;
  const maxTokens = integer(b, maxTokensKey, (x) => x >= 1, 'an integer >= 1') ?? defaultMaxTokens;
  if (maxTokens > cap) throw new RequestError(400, `'${maxTokensKey}' is ${maxTokens}, more than this server's limit of ${cap} tokens per request`, maxTokensKey, 'max_tokens_too_large');
  const temperature = number(b, 'temperature', (x) => x >= 0 && x <= 2, 'a number in [0, 2]') ?? 1;
  const topP = number(b, 'top_p', (x) => x > 0 && x <= 1, 'a number in (0, 1]');
  const topK = integer(b, 'top_k', (x) => x >= -1, 'an integer >= -1 (0 or -1: off)');
  const minP = number(b, 'min_p', (x) => x >= 0 && x <= 1, 'a number in [0, 1]');
  const repetitionPenalty = number(b, 'repetition_penalty', (x) => x > 0, 'a number > 0 (1: off)');
  const seed = integer(b, 'seed', () => true, 'an integer');
  // OpenAI's temperature 0 is greedy decoding; the other warpers then have no effect (as in HF).
  const sampling: SamplingOptions = { doSample: temperature > 0 };
  if (temperature > 0) sampling.temperature = temperature;
  if (topP !== undefined) sampling.topP = topP;
  if (topK !== undefined && topK > 0) sampling.topK = topK;
  if (minP !== undefined) sampling.minP = minP;
  if (repetitionPenalty !== undefined) sampling.repetitionPenalty = repetitionPenalty;
  if (seed !== undefined) sampling.seed = seed;

  let stop: string[] = [];
  if (has(b, 'stop')) {
    const s = b['stop'];
    if (typeof s === 'string') stop = [s];
    else if (Array.isArray(s) && s.every((x): x is string => typeof x === 'string')) stop = s;
    else throw bad('stop', 'a string or an array of strings', s);
    if (stop.length > 16) throw new RequestError(400, `'stop' holds ${stop.length} strings; at most 16`, 'stop', 'invalid_value');
    if (stop.some((x) => x.length === 0 || x.length > 1000)) throw new RequestError(400, "'stop' strings must be 1 to 1000 characters long", 'stop', 'invalid_value');
  }
  const stream = boolean(b, 'stream') ?? false;
  let includeUsage = false;
  if (has(b, 'stream_options')) {
    const so = b['stream_options'];
    if (typeof so !== 'object' || so === null || Array.isArray(so)) throw bad('stream_options', 'an object', so);
    if (!stream) throw new RequestError(400, "'stream_options' is only allowed when 'stream' is true", 'stream_options', 'invalid_value');
    const iu = (so as Body)['include_usage'];
    if (iu !== undefined && iu !== null && typeof iu !== 'boolean') throw bad('stream_options.include_usage', 'true or false', iu);
    includeUsage = iu === true;
  }
  return { maxTokens, sampling, stop, stream, includeUsage };
}

/** A /v1/completions body. OpenAI's default max_tokens there is 16. */
export function parseCompletionRequest(raw: unknown, limits: RequestLimits): CompletionRequest {
  const b = body(raw);
  checkFields(b, COMPLETION_FIELDS);
  unsupportedUnless(b, 'suffix', (v) => v === '', 'insertion is not supported');
  unsupportedUnless(b, 'best_of', (v) => v === 1, 'only 1');
  const params = common(b, limits, Math.min(16, limits.maxTokens), 'max_tokens');
  const p = b['prompt'];
  let prompt: string | number[];
  const isIds = (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number');
  if (typeof p === 'string') prompt = p;
  else if (isIds(p)) prompt = p;
  else if (Array.isArray(p) && p.length === 1 && (typeof p[0] === 'string' || isIds(p[0]))) prompt = p[0] as string | number[];
  else if (Array.isArray(p) && p.length > 1 && p.every((x) => typeof x === 'string' || isIds(x))) {
    throw new RequestError(400, `'prompt' holds ${p.length} prompts; this server takes one prompt per request`, 'prompt', 'unsupported_parameter');
  } else throw bad('prompt', 'a string, an array of token ids, or an array holding one of those', p);
  return { ...params, prompt, echo: boolean(b, 'echo') ?? false };
}

/** Text of a message's content: a string, or an array of text parts. */
function contentText(v: unknown, i: number): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    return v
      .map((part: unknown, j) => {
        const p = part as Body | null;
        if (typeof p !== 'object' || p === null || p['type'] !== 'text' || typeof p['text'] !== 'string') {
          throw new RequestError(400, `messages[${i}].content[${j}]: only text parts ({type: 'text', text}) are supported`, `messages[${i}].content`, 'unsupported_content');
        }
        return p['text'];
      })
      .join('');
  }
  throw bad(`messages[${i}].content`, 'a string or an array of text parts', v);
}

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool']);

/** A /v1/chat/completions body; max_completion_tokens is max_tokens' newer name. */
export function parseChatRequest(raw: unknown, limits: RequestLimits): ChatRequest {
  const b = body(raw);
  checkFields(b, CHAT_FIELDS);
  const empty = (v: unknown) => Array.isArray(v) && v.length === 0;
  for (const k of ['tools', 'functions']) unsupportedUnless(b, k, empty, 'tool calls are not supported');
  for (const k of ['tool_choice', 'function_call']) unsupportedUnless(b, k, (v) => v === 'none', 'tool calls are not supported');
  unsupportedUnless(b, 'top_logprobs', (v) => v === 0, 'log probabilities are not returned');
  unsupportedUnless(b, 'response_format', (v) => typeof v === 'object' && v !== null && (v as Body)['type'] === 'text', "only {type: 'text'}");
  unsupportedUnless(b, 'modalities', (v) => Array.isArray(v) && v.every((m) => m === 'text'), "only ['text']");
  for (const k of ['audio', 'prediction', 'reasoning_effort', 'web_search_options']) unsupportedUnless(b, k, () => false, 'not a feature of this server');
  if (has(b, 'max_tokens') && has(b, 'max_completion_tokens')) {
    throw new RequestError(400, "give 'max_tokens' or 'max_completion_tokens', not both", 'max_tokens', 'invalid_value');
  }
  const params = common(b, limits, limits.maxTokens, has(b, 'max_completion_tokens') ? 'max_completion_tokens' : 'max_tokens');
  const m = b['messages'];
  if (!Array.isArray(m) || m.length === 0) throw bad('messages', 'a non-empty array of messages', m);
  const messages = m.map((raw: unknown, i): ChatMessage => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad(`messages[${i}]`, 'an object with role and content', raw);
    const msg = raw as Body;
    const role = msg['role'];
    if (typeof role !== 'string' || !ROLES.has(role)) throw bad(`messages[${i}].role`, `one of ${[...ROLES].join(', ')}`, role);
    if (role === 'assistant' && (msg['content'] === null || msg['content'] === undefined)) return { role, content: '' };
    return { role, content: contentText(msg['content'], i) };
  });
  return { ...params, messages };
}
