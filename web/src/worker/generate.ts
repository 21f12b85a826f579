/** Generate: streams the continuation of a prompt, with tokens per second as it goes. */
import type { DeviceUsed, GenerateJob, GenerateResult } from '../protocol.js';
import { TextStreamer, type Streamer } from './lib.js';
import { causalLM, tokenizer } from './models.js';
import { jobModel } from './urls.js';

export type Emit = (e: { type: 'text'; text: string; tokens: number; tokensPerSecond: number } | { type: 'status'; text: string }) => void;

export async function runGenerate(job: GenerateJob, d: DeviceUsed, emit: Emit): Promise<GenerateResult> {
  const where = jobModel(job);
  emit({ type: 'status', text: `loading ${job.folder ? job.folder.name : job.model}` });
  const [tok, model] = await Promise.all([tokenizer(where), causalLM(where, d)]);
  const promptIds = tok.encode(job.prompt);
  if (promptIds.length === 0) throw new Error('generate: the prompt is empty after tokenizing; type some text');
  emit({ type: 'status', text: 'generating' });
  let tokens = 0;
  let t0 = 0;
  const rate = () => (tokens > 1 ? (tokens - 1) / ((performance.now() - t0) / 1000) : 0);
  const text = new TextStreamer(tok, { skipPrompt: true, onText: (t) => emit({ type: 'text', text: t, tokens, tokensPerSecond: rate() }) });
  // Counts the new tokens for the rate: the first put is the prompt; the clock starts at the
  // first new token, so the rate is the decode rate (the prompt's prefill is not in it).
  let sawPrompt = false;
  const counting: Streamer = {
    put(ids) {
      if (!sawPrompt) sawPrompt = true;
      else {
        if (tokens === 0) t0 = performance.now();
        tokens += ids.length;
      }
      text.put(ids);
    },
    end() {
      text.end();
    },
  };
  const start = performance.now();
  const s = job.sampling;
  const out = await model.generate([promptIds], {
    maxNewTokens: job.maxNewTokens,
    eosTokenId: null,
    doSample: s.doSample,
    temperature: s.temperature,
    topK: s.topK,
    topP: s.topP,
    minP: s.minP,
    repetitionPenalty: s.repetitionPenalty,
    ...(s.seed === undefined ? {} : { seed: s.seed }),
    streamer: counting,
  });
  const newIds = out[0]!.slice(promptIds.length);
  return { text: tok.decode(newIds), promptIds, newIds, tokensPerSecond: rate(), seconds: (performance.now() - start) / 1000 };
}
