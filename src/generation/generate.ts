/**
 * The decoding loop, for any CausalLM: the prompt goes through the model in parallel (filling the
 * cache), then one token at a time through the recurrent path. Sampling follows HF transformers'
 * logits processors (see logits-process.ts); min-p is defined on probabilities.
 */
import { ArgumentError } from '../errors.js';
import { argmax } from '../ops/reduce.js';
import { reshape } from '../ops/shape.js';
import { keep, tidy } from '../tensor/memory.js';
import type { CausalLM, DecodeCache } from './causal-lm.js';
import { validateSamplingOptions, type SamplingOptions } from './logits-process.js';
import { pickNextToken, Rng } from './sampler.js';
import type { Tensor } from '../tensor/tensor.js';

/** HF's BaseStreamer: the prompt is put first, then each new token. Batch size 1 only. */
export interface Streamer {
  put(ids: number[]): void;
  end(): void;
}

export interface GenerateOptions extends SamplingOptions {
  /** New tokens per sequence at most (default 20, as HF's max_length default). */
  maxNewTokens?: number;
  /** Stop a sequence at this id (or any of these); defaults to the model config's; null disables. */
  eosTokenId?: number | number[] | null;
  /** Filler after a sequence finished while others go on (default: the config's pad id, else eos). */
  padTokenId?: number;
  streamer?: Streamer;
  /** Called after every step with the new token of each sequence. */
  onStep?: (tokens: number[]) => void;
}

/** Greedy steps recorded ahead of the token read-back (see generateSteps). */
const LOOKAHEAD = 4;

function eosSet(model: CausalLM, o: GenerateOptions): Set<number> {
  const eos = o.eosTokenId === undefined ? model.eosTokenId : o.eosTokenId;
  const list = eos === null ? [] : Array.isArray(eos) ? eos : [eos];
  for (const id of list) {
    if (!Number.isInteger(id) || id < 0 || id >= model.vocabSize) {
      throw new ArgumentError(`eosTokenId ${id} is outside the vocabulary [0, ${model.vocabSize})`);
    }
  }
  return new Set(list);
}

/**
 * Yields the new token of every sequence at each step (a finished sequence yields the pad id),
 * until maxNewTokens or all sequences have emitted an end-of-sequence id.
 */
export async function* generateSteps<C extends DecodeCache>(
  model: CausalLM<C>,
  inputIds: number[][],
  o: GenerateOptions = {},
): AsyncGenerator<number[]> {
  validateSamplingOptions(o);
  const maxNew = o.maxNewTokens ?? 20;
  if (!Number.isInteger(maxNew) || maxNew < 0) throw new ArgumentError(`maxNewTokens must be an integer >= 0, got ${maxNew}`);
  if (o.streamer && inputIds.length !== 1) throw new ArgumentError('streamer: only batch size 1 can be streamed');
  const eos = eosSet(model, o);
  const pad = o.padTokenId ?? model.padTokenId ?? (eos.size ? [...eos][0]! : 0);
  const rng = new Rng(o.seed);
  const history = inputIds.map((r) => [...r]);
  const done = inputIds.map(() => false);
  o.streamer?.put([...inputIds[0]!]);
  // Plain greedy needs only the argmax: computed where the logits are, only B ids come back.
  const greedyOnDevice = !o.doSample && (o.repetitionPenalty ?? 1) === 1;
  const cache = model.createCache(inputIds.length);
  const finish = (picked: ArrayLike<number>): number[] => {
    const tokens = Array.from(picked, (id, b) => {
      if (done[b]) return pad;
      if (eos.has(id)) done[b] = true;
      return id;
    });
    tokens.forEach((id, b) => history[b]!.push(id));
    o.streamer?.put([tokens[0]!]);
    o.onStep?.(tokens);
    return tokens;
  };
  const pending: { ids: Tensor; data: Promise<ArrayLike<number>> }[] = [];
  try {
    if (greedyOnDevice) {
      // The argmax stays on the device and feeds the next step directly; token ids are read back
      // LOOKAHEAD steps behind, so the read-back latency overlaps with the following steps.
      let next: number[][] | Tensor = inputIds;
      for (let step = 0; step < maxNew; step++) {
        const logits = model.nextLogits(next, cache);
        const ids = keep(tidy(() => reshape(argmax(logits), [inputIds.length, 1])));
        logits.dispose();
        pending.push({ ids, data: ids.data() });
        next = ids;
        if (pending.length > LOOKAHEAD || step === maxNew - 1) {
          const p = pending.shift()!;
          const data = await p.data;
          p.ids.dispose();
          yield finish(data);
          if (done.every(Boolean)) break;
        }
      }
      while (pending.length) {
        const p = pending.shift()!;
        const data = await p.data;
        p.ids.dispose();
        if (!done.every(Boolean)) yield finish(data);
      }
    } else {
      let next: number[][] = inputIds;
      for (let step = 0; step < maxNew; step++) {
        const logits = model.nextLogits(next, cache); // (B, V)
        const picked = await sampleOnHost(logits, history, o, rng, model.vocabSize);
        logits.dispose();
        const tokens = finish(picked);
        yield tokens;
        if (done.every(Boolean)) break;
        next = tokens.map((t) => [t]);
      }
    }
  } finally {
    // Also reached when the caller stops iterating early: drop the reads still in flight.
    for (const p of pending) {
      p.data.catch(() => undefined);
      p.ids.dispose();
    }
    cache.dispose();
    o.streamer?.end();
  }
}

async function sampleOnHost(logits: Tensor, history: number[][], o: GenerateOptions, rng: Rng, V: number): Promise<number[]> {
  const data = (await logits.data()) as Float32Array;
  return history.map((h, b) => pickNextToken(data.subarray(b * V, (b + 1) * V), h, o, rng));
}

/** Prompt + generated tokens per sequence (HF's `generate` output for decoder-only models). */
export async function generate<C extends DecodeCache>(
  model: CausalLM<C>,
  inputIds: number[][],
  o: GenerateOptions = {},
): Promise<number[][]> {
  const out = inputIds.map((r) => [...r]);
  for await (const tokens of generateSteps(model, inputIds, o)) tokens.forEach((t, b) => out[b]!.push(t));
  return out;
}
