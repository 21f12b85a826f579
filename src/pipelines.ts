/**
 * transformers.js's `pipeline(task, model)`: a model and its tokenizer behind one call that takes
 * text and gives text. Only 'text-generation' so far:
 *
 *   const generator = await pipeline('text-generation', 'models/mamba-shakespeare');
 *   const [{ generated_text }] = await generator('ROMEO:', { maxNewTokens: 40 });
 *
 * The output mirrors transformers.js (`[{ generated_text }]` per text; the prompt included unless
 * returnFullText is false); options are this library's camelCase GenerateOptions.
 */
import { HUB_OPTION_KEY_RECORD } from './io/hub.js';
import { Callable } from './callable.js';
import { ArgumentError } from './errors.js';
import { generate, GENERATE_OPTION_KEY_RECORD, type GenerateOptions } from './generation/generate.js';
import type { CausalLM } from './generation/causal-lm.js';
import { AutoTokenizer, PreTrainedTokenizer } from './io/tokenizer.js';
import { AutoModelForCausalLM, type AutoLoadOptions } from './models/auto.js';
import { checkOptionKeys, optionKeys } from './options.js';
import { kindOf } from './generation/token-ids.js';

export const SUPPORTED_TASKS = ['text-generation'] as const;
export type PipelineTask = (typeof SUPPORTED_TASKS)[number];

/** A loaded causal LM (e.g. from AutoModelForCausalLM.fromPretrained). */
export type GenerativeModel = CausalLM & { dispose(): void };

export interface PipelineOptions extends AutoLoadOptions {
  /** A tokenizer folder or a loaded tokenizer; default: the model folder's. Required with a loaded model. */
  tokenizer?: string | PreTrainedTokenizer;
}

/** Its keys: AutoLoadOptions' (the compiler asks for any it gains) and the tokenizer. */
export const PIPELINE_OPTION_KEYS = optionKeys<PipelineOptions>({ ...HUB_OPTION_KEY_RECORD, device: true, progressCallback: true, tokenizer: true });

export interface TextGenerationOptions extends Omit<GenerateOptions, 'attentionMask'> {
  /** Include the prompt in generated_text (default true, as transformers.js's return_full_text). */
  returnFullText?: boolean;
}

const { attentionMask: _paddedHere, ...GENERATE_KEYS_BUT_MASK } = GENERATE_OPTION_KEY_RECORD;
export const TEXT_GENERATION_OPTION_KEYS = optionKeys<TextGenerationOptions>({ ...GENERATE_KEYS_BUT_MASK, returnFullText: true });

export interface TextGenerationOutput {
  generated_text: string;
}

/** Calling the pipeline: one text → [{ generated_text }]; a list → one such list per text. */
export interface TextGenerationPipeline {
  (text: string, o?: TextGenerationOptions): Promise<TextGenerationOutput[]>;
  (texts: string[], o?: TextGenerationOptions): Promise<TextGenerationOutput[][]>;
}

export class TextGenerationPipeline extends Callable<[text: string | string[], o?: TextGenerationOptions], Promise<TextGenerationOutput[] | TextGenerationOutput[][]>> {
  readonly task = 'text-generation';

  /** `ownsModel`: the pipeline loaded the model, so dispose() frees it. */
  constructor(
    readonly model: GenerativeModel,
    readonly tokenizer: PreTrainedTokenizer,
    private readonly ownsModel: boolean,
  ) {
    super();
  }

  protected async _call(text: string | string[], o: TextGenerationOptions = {}): Promise<TextGenerationOutput[] | TextGenerationOutput[][]> {
    checkOptionKeys('text-generation', o, TEXT_GENERATION_OPTION_KEYS);
    const batched = Array.isArray(text);
    const texts = batched ? text : [text];
    if (texts.length === 0 || texts.some((t) => typeof t !== 'string')) {
      throw new ArgumentError(`text-generation: expected a prompt (string) or a non-empty string[], got ${batched ? 'an array holding ' + (texts.length ? kindOf(texts.find((t) => typeof t !== 'string')) : 'nothing') : kindOf(text)}`);
    }
    if (o.streamer && texts.length > 1) throw new ArgumentError('text-generation: a streamer follows one prompt; pass a single string');
    const { returnFullText = true, ...generateOptions } = o;
    const prompts = texts.map((t, i) => {
      const ids = this.tokenizer.encode(t);
      if (ids.length === 0) throw new ArgumentError(`text-generation: prompt ${i} (${JSON.stringify(t)}) encodes to no tokens; the model needs at least one to continue`);
      return ids;
    });
    // One batch when the model takes ragged rows (or they are equally long); else prompt by prompt.
    let rows: number[][];
    if (prompts.every((p) => p.length === prompts[0]!.length) || this.model.supportsAttentionMask) {
      rows = await generate(this.model, prompts, generateOptions);
    } else {
      rows = [];
      for (const p of prompts) rows.push((await generate(this.model, [p], generateOptions))[0]!);
    }
    const outputs = rows.map((row, i): TextGenerationOutput[] => {
      const full = this.tokenizer.decode(row, { skipSpecialTokens: true });
      if (returnFullText) return [{ generated_text: full }];
      // As transformers.js: the decoded prompt's characters are cut from the front.
      const prompt = this.tokenizer.decode(prompts[i]!, { skipSpecialTokens: true });
      const rest = full.startsWith(prompt) ? full.slice(prompt.length) : this.tokenizer.decode(row.slice(prompts[i]!.length), { skipSpecialTokens: true });
      return [{ generated_text: rest }];
    });
    return batched ? outputs : outputs[0]!;
  }

  /** Frees the model when the pipeline loaded it (a model passed in stays the caller's). */
  dispose(): void {
    if (this.ownsModel) this.model.dispose();
  }
}

function isCausalLM(m: unknown): m is GenerativeModel {
  const o = m as Partial<GenerativeModel> | null;
  return typeof o === 'object' && o !== null && typeof o.nextLogits === 'function' && typeof o.createCache === 'function' && typeof o.dispose === 'function';
}

/**
 * A pipeline for `task`. `model` is a model folder (loaded with AutoModelForCausalLM and, unless
 * options.tokenizer says otherwise, the folder's tokenizer) or an already loaded model, which then
 * needs options.tokenizer.
 */
export async function pipeline(task: PipelineTask, model: string | GenerativeModel, o: PipelineOptions = {}): Promise<TextGenerationPipeline> {
  if (!(SUPPORTED_TASKS as readonly string[]).includes(task)) {
    throw new ArgumentError(`pipeline: unknown task ${JSON.stringify(task)}; supported: ${SUPPORTED_TASKS.join(', ')}`);
  }
  checkOptionKeys('pipeline', o, PIPELINE_OPTION_KEYS);
  const { tokenizer, ...load } = o;
  if (typeof model !== 'string' && !isCausalLM(model)) {
    throw new ArgumentError(`pipeline: expected a model folder or a loaded causal LM (AutoModelForCausalLM.fromPretrained), got ${kindOf(model)}`);
  }
  if (typeof model !== 'string' && tokenizer === undefined) {
    throw new ArgumentError("pipeline: with a loaded model, pass its tokenizer too: pipeline('text-generation', model, { tokenizer })");
  }
  if (typeof model !== 'string' && Object.keys(load).length) {
    throw new ArgumentError(`pipeline: ${Object.keys(load).join(', ')} apply to loading; the model passed in is already loaded`);
  }
  if (tokenizer !== undefined && typeof tokenizer !== 'string' && !(tokenizer instanceof PreTrainedTokenizer)) {
    throw new ArgumentError(`pipeline: tokenizer must be a tokenizer folder or a PreTrainedTokenizer (AutoTokenizer.fromPretrained), got ${kindOf(tokenizer)}`);
  }
  const tok = tokenizer instanceof PreTrainedTokenizer ? tokenizer : await AutoTokenizer.fromPretrained(tokenizer ?? (model as string));
  if (typeof model !== 'string') return new TextGenerationPipeline(model, tok, false);
  return new TextGenerationPipeline(await AutoModelForCausalLM.fromPretrained(model, load), tok, true);
}
