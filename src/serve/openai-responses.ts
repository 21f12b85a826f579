/**
 * OpenAI response objects, shaped as the `openai` package's types (Completion, ChatCompletion,
 * ChatCompletionChunk, Model) describe them.
 */
import { randomUUID } from 'node:crypto';

export type FinishReason = 'stop' | 'length';

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export function usage(prompt: number, completion: number): Usage {
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** What every object of one response shares. */
export interface ResponseHead {
  id: string;
  created: number;
  model: string;
}

export function responseHead(kind: 'completion' | 'chat', model: string): ResponseHead {
  return { id: `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID().replace(/-/g, '')}`, created: Math.floor(Date.now() / 1000), model };
}

export function completion(h: ResponseHead, text: string, finish: FinishReason, u: Usage) {
  return { ...h, object: 'text_completion' as const, choices: [{ index: 0, text, logprobs: null, finish_reason: finish }], usage: u };
}

/** A /v1/completions stream chunk: some text, or (with finish) the last choice. */
export function completionChunk(h: ResponseHead, text: string, finish: FinishReason | null, withUsage: boolean) {
  return { ...h, object: 'text_completion' as const, choices: [{ index: 0, text, logprobs: null, finish_reason: finish }], ...(withUsage ? { usage: null } : {}) };
}

export function chatCompletion(h: ResponseHead, text: string, finish: FinishReason, u: Usage) {
  return {
    ...h,
    object: 'chat.completion' as const,
    choices: [{ index: 0, message: { role: 'assistant' as const, content: text, refusal: null }, logprobs: null, finish_reason: finish }],
    usage: u,
  };
}

/** A chat stream chunk: the first carries the role, the last only finish_reason (an empty delta). */
export function chatChunk(h: ResponseHead, delta: { role?: 'assistant'; content?: string }, finish: FinishReason | null, withUsage: boolean) {
  return { ...h, object: 'chat.completion.chunk' as const, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...(withUsage ? { usage: null } : {}) };
}

/** stream_options.include_usage: the chunk after the last choice, with no choices. */
export function usageChunk(h: ResponseHead, kind: 'completion' | 'chat', u: Usage) {
  return { ...h, object: kind === 'chat' ? ('chat.completion.chunk' as const) : ('text_completion' as const), choices: [], usage: u };
}

export function modelObject(id: string, created: number) {
  return { id, object: 'model' as const, created, owned_by: 'mamba-ts' };
}
