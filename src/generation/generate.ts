/**
 * The decoding loop, for any CausalLM: the prompt goes through the model in parallel (filling the
 * cache), then one token at a time through the recurrent path. Sampling follows HF transformers'
 * logits processors (see logits-process.ts); min-p is defined on probabilities.
 */
import { envSwitch } from '../env.js';
import { prefillPrompt } from './prefill.js';
import { ArgumentError } from '../errors.js';
import { argmax } from '../ops/reduce.js';
import { reshape, writeSlice } from '../ops/shape.js';
import { tensor, zeros } from '../ops/create.js';
import { sampleTokens } from '../ops/sample-tokens.js';
import type { DeviceName } from '../backend/registry.js';
import { keep, tidy } from '../tensor/memory.js';
import { noGrad } from '../autograd/tape.js';
import type { CausalLM, DecodeCache, DecodeStepper, TokenPicker } from './causal-lm.js';
import { SAMPLING_OPTION_KEYS, validateSamplingOptions, type SamplingOptions } from './logits-process.js';
import { checkOptionKeys, optionKeys, type KeyRecord } from '../options.js';
import { checkTokenIdOption, checkTokenIds } from './token-ids.js';
import { pickNextToken, Rng } from './sampler.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkAttentionMask, leftPad } from './attention-mask.js';
import { EventLoopYielder } from '../event-loop.js';

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
  /**
   * HF's attention_mask (B, L) for prompts the caller already padded (1 = real, 0 = padding; left
   * padding). Not needed for rows of different lengths: those are left-padded here with the pad id.
   */
  attentionMask?: number[][];
}

/** Every key GenerateOptions has: anything else passed to generate is a mistake, reported by name. */
export const GENERATE_OPTION_KEY_RECORD: KeyRecord<GenerateOptions> = {
  ...SAMPLING_OPTION_KEYS,
  maxNewTokens: true,
  eosTokenId: true,
  padTokenId: true,
  streamer: true,
  onStep: true,
  attentionMask: true,
};
export const GENERATE_OPTION_KEYS = optionKeys<GenerateOptions>(GENERATE_OPTION_KEY_RECORD);

/** Greedy steps recorded ahead of the token read-back (see generateSteps). */
const LOOKAHEAD = 4;

/**
 * Greedy steps read back at once: 8 measured best on the H200 (a group per submit amortises Dawn's
 * per-submit cost). MAMBA_TS_READ_EVERY overrides it, for benchmarking.
 */
function readEvery(): number {
  const env = Number(envSwitch('MAMBA_TS_READ_EVERY'));
  return Number.isInteger(env) && env > 0 ? env : 8;
}

/** The end-of-sequence ids: the option's (null: none), else the model config's (checked when it was read). */
function eosSet(model: CausalLM, o: GenerateOptions): Set<number> {
  const eos: unknown = o.eosTokenId === undefined ? model.eosTokenId : o.eosTokenId;
  if (eos === null) return new Set();
  if (!Array.isArray(eos)) {
    checkTokenIdOption('eosTokenId', eos, model.vocabSize);
    return new Set([eos]);
  }
  eos.forEach((id: unknown, i) => checkTokenIdOption(`eosTokenId[${i}]`, id, model.vocabSize));
  return new Set(eos as number[]);
}

/** The filler of finished rows and of left-padded prompts: the option's, the config's, else the first eos id, else 0. */
function padId(model: CausalLM, o: GenerateOptions, eos: Set<number>): number {
  if (o.padTokenId !== undefined) {
    checkTokenIdOption('padTokenId', o.padTokenId, model.vocabSize);
    return o.padTokenId;
  }
  return model.padTokenId ?? (eos.size ? [...eos][0]! : 0);
}

/**
 * Yields the new token of every sequence at each step (a finished sequence yields the pad id),
 * until maxNewTokens or all sequences have emitted an end-of-sequence id. Never records gradients,
 * even for a model in training. Hands the event loop a macrotask every ~20 ms of decoding, so
 * timers, I/O and concurrent generations run while it does.
 */
export async function* generateSteps<C extends DecodeCache>(
  model: CausalLM<C>,
  inputIds: number[][],
  o: GenerateOptions = {},
): AsyncGenerator<number[]> {
  checkOptionKeys('generate', o, GENERATE_OPTION_KEYS);
  checkTokenIds('inputIds', inputIds, model.vocabSize);
  validateSamplingOptions(o);
  const maxNew = o.maxNewTokens ?? 20;
  if (!Number.isInteger(maxNew) || maxNew < 0) throw new ArgumentError(`maxNewTokens must be an integer >= 0, got ${maxNew}`);
  if (o.streamer && inputIds.length !== 1) throw new ArgumentError('streamer: only batch size 1 can be streamed');
  const eos = eosSet(model, o);
  const pad = padId(model, o, eos);
  const rngs = rowGenerators(o.seed, inputIds.length);
  const prompt = padPrompts(model, inputIds, o.attentionMask, pad);
  const history = inputIds.map((r) => [...r]);
  const done = inputIds.map(() => false);
  o.streamer?.put([...inputIds[0]!]);
  const cache = model.createCache(inputIds.length);
  // The last step feeds the token before the last new one: the cache ends one short of the total.
  cache.reserve?.(Math.max(0, (prompt.ids[0]?.length ?? 0) + maxNew - 1));
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
  // Groups of greedy steps' ids being read back, and the group being filled.
  const pending: { tensor: Tensor; steps: number; data: Promise<ArrayLike<number>> }[] = [];
  let groupTensor: Tensor | null = null;
  let stepper: DecodeStepper | null | undefined;
  let owned: Tensor | null = null; // the last greedy step's ids, when this loop made them
  // The prompt's logits, made before the loop: where they are decides how tokens are picked.
  let promptLogits: Tensor | null = null;
  let picker: DevicePicker | null = null;
  // On the CPU a step awaits nothing but microtasks: without this, timers, I/O and other
  // generations would wait for the whole run (see event-loop.ts).
  const yielder = new EventLoopYielder();
  try {
    if (maxNew > 0) promptLogits = await prefillPrompt(model, cache, prompt.ids, prompt.attentionMask);
    // Greedy needs only the argmax, and sampling a draw on the device: computed where the logits
    // are, only B ids come back.
    picker = promptLogits ? devicePicker(o, promptLogits, rngs) : null;
    const pick = picker?.pick;
    if (pick) {
      // The picked ids stay on the device and feed the next step directly. Each step's ids are
      // copied into a group of readEvery() steps that is read back at once (one submit and one
      // read per group), at least LOOKAHEAD steps behind, so the read-back latency overlaps with
      // the following steps. After the prompt, a model's DecodeStepper (if any) runs the steps.
      const B = inputIds.length;
      const every = readEvery();
      const behind = Math.max(1, Math.ceil(LOOKAHEAD / every));
      let next: number[][] | Tensor = prompt.ids;
      let stop = false;
      let filled = 0;
      for (let step = 0; step < maxNew && !stop; step++) {
        await yielder.maybeYield();
        const input: number[][] | Tensor = next;
        let ids: Tensor;
        if (step > 0 && stepper === undefined) stepper = model.decodeStepper?.(cache, pick, picker!.key) ?? null;
        if (step > 0 && stepper) {
          ids = noGrad(() => stepper!.step(input as Tensor));
        } else {
          const logits: Tensor = step === 0 ? promptLogits! : await noGrad(() => model.nextLogits(input, cache));
          promptLogits = null;
          ids = keep(tidy(() => pick(logits)));
          logits.dispose();
        }
        owned?.dispose(); // its consumer is recorded: the buffer may be reused from here on
        owned = stepper && step > 0 ? null : ids; // a stepper's ids are its own
        if (!groupTensor) groupTensor = keep(zeros([B, Math.min(every, maxNew - step)], { dtype: 'i32', device: ids.device as DeviceName }));
        writeSlice(groupTensor, ids, 1, filled++);
        next = ids;
        const last = step === maxNew - 1;
        if (filled === groupTensor.shape[1]) {
          pending.push({ tensor: groupTensor, steps: filled, data: groupTensor.data() });
          groupTensor = null;
          filled = 0;
        }
        while (pending.length > (last ? 0 : behind) && !stop) {
          const p = pending.shift()!;
          const data = await p.data;
          p.tensor.dispose();
          for (let j = 0; j < p.steps && !stop; j++) {
            yield finish(Array.from({ length: B }, (_, b) => data[b * p.steps + j]!));
            stop = done.every(Boolean);
          }
        }
      }
    } else {
      let next: number[][] = prompt.ids;
      for (let step = 0; step < maxNew; step++) {
        await yielder.maybeYield();
        const input: number[][] = next;
        const logits: Tensor = step === 0 ? promptLogits! : await noGrad(() => model.nextLogits(input, cache)); // (B, V)
        promptLogits = null;
        const picked = await sampleOnHost(logits, history, o, rngs, model.vocabSize);
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
      p.tensor.dispose();
    }
    groupTensor?.dispose();
    owned?.dispose();
    promptLogits?.dispose();
    // The cache first: the stepper then has no states to copy back for it (MambaCache.giveBack).
    cache.dispose();
    stepper?.dispose();
    picker?.dispose();
    o.streamer?.end();
  }
}

/**
 * The prompt as the model takes it: rows of one length as given; rows of different lengths
 * left-padded with `pad` and masked; or the caller's own padding with its mask. A mask needs a
 * model that takes one.
 */
function padPrompts(model: CausalLM, rows: number[][], mask: number[][] | undefined, pad: number): { ids: number[][]; attentionMask?: number[][] } {
  const ragged = Array.isArray(rows) && rows.some((r) => Array.isArray(r) && r.length !== rows[0]?.length);
  if (!ragged && !mask) return { ids: rows };
  if (!model.supportsAttentionMask) {
    throw new ArgumentError(
      mask ? 'attentionMask: this model does not take an attention mask' : 'inputIds: rows have different lengths, and this model does not take an attention mask to pad them',
    );
  }
  if (mask && ragged) throw new ArgumentError('inputIds: with an attentionMask, rows must already be padded to one length');
  if (mask) {
    checkAttentionMask(mask, rows.length, rows[0]!.length);
    return { ids: rows, attentionMask: mask };
  }
  return leftPad(rows, pad);
}

/**
 * Each sequence's own generator: row b is seeded with seed + b, so that a batch reproduces each
 * prompt generated alone with seed + b (and a server can give each request its own seed); without
 * a seed, each row gets an independent random one.
 */
function rowGenerators(seed: number | undefined, B: number): Rng[] {
  return Array.from({ length: B }, (_, b) => new Rng(seed === undefined ? undefined : seed + b));
}

/** A token picker and what it holds on the device for the whole generation. */
interface DevicePicker {
  pick: TokenPicker;
  /** Set where every generation's picker does the same device work (CausalLM.decodeStepper). */
  key?: string;
  dispose(): void;
}

/**
 * How tokens are chosen without reading logits back, when the options allow it: the argmax for
 * plain greedy decoding; a draw on the device (ops/sample-tokens.ts) when sampling without a
 * repetition penalty on a device with that kernel, each row's generator state (B, 4) living on the
 * device and advancing there. Null when the logits must come to the host: the repetition penalty
 * (it needs each row's history), or sampling on the CPU (there the host path is the same work, and
 * gives the same tokens by construction).
 */
function devicePicker(o: GenerateOptions, logits: Tensor, rngs: Rng[]): DevicePicker | null {
  const B = logits.shape[0]!;
  if ((o.repetitionPenalty ?? 1) !== 1) return null;
  if (!o.doSample) return { pick: (l) => reshape(argmax(l), [B, 1]), key: 'argmax', dispose: () => undefined };
  if (logits.backend.name === 'cpu' || !logits.backend.sampleTokens) return null;
  const state = keep(tensor(Int32Array.from(rngs.flatMap((r) => r.state())), [B, 4], { device: logits.device as DeviceName }));
  const so = { temperature: o.temperature ?? 1, topK: o.topK ?? 0, topP: o.topP ?? 1, minP: o.minP ?? 0 };
  return { pick: (l) => sampleTokens(l, state, so), dispose: () => state.dispose() };
}

async function sampleOnHost(logits: Tensor, history: number[][], o: GenerateOptions, rngs: Rng[], V: number): Promise<number[]> {
  const data = (await logits.data()) as Float32Array;
  return history.map((h, b) => pickNextToken(data.subarray(b * V, (b + 1) * V), h, o, rngs[b]!));
}

/** Prompt + generated tokens per sequence (HF's `generate` output for decoder-only models). */
export async function generate<C extends DecodeCache>(
  model: CausalLM<C>,
  inputIds: number[][],
  o: GenerateOptions = {},
): Promise<number[][]> {
  checkTokenIds('inputIds', inputIds, model.vocabSize);
  const out = inputIds.map((r) => [...r]);
  for await (const tokens of generateSteps(model, inputIds, o)) tokens.forEach((t, b) => out[b]!.push(t));
  return out;
}
