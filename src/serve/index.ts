/**
 * `mamba-ts/serve`: the OpenAI-compatible HTTP server with continuous batching (Node only; not
 * part of the browser entry).
 *
 *     import { AutoModelForCausalLM, AutoTokenizer } from 'mamba-ts';
 *     import { createServer } from 'mamba-ts/serve';
 *     const server = createServer({ model, tokenizer, maxConcurrent: 16 });
 *     await server.listen(8080, '127.0.0.1');
 */
export { createServer, MambaServer, type ServeOptions, type ServeTokenizer } from './server.js';
export { Scheduler, QueueFullError, type SchedulerOptions, type SequenceRequest, type SequenceEnd, type SequenceHandle } from './scheduler.js';
export { decoderFor, RowBatchDecoder, SequentialDecoder, type BatchDecoder, type PrefilledRow, type RowOutput, type RowPick } from './decoder.js';
export { chatFormatterFor, readChatTemplate, templateFormatter, FALLBACK_CHAT_FORMAT, type ChatFormatter, type ChatMessage, type ChatTemplateSource } from './chat-template.js';
export { ServerMetrics } from './metrics.js';
export { RequestError } from './openai-requests.js';
