/**
 * Reading HF config.json fields with checks: each error names the file, the field, what was
 * expected and what was found.
 */
import { FormatError } from '../errors.js';
import { quoteForMessage } from '../quote.js';

export class ConfigReader {
  readonly used = new Set<string>();
  constructor(
    readonly raw: Record<string, unknown>,
    readonly source: string,
  ) {}

  private fail(field: string, expected: string, got: unknown): never {
    throw new FormatError(this.source, `field "${field}": expected ${expected}, got ${preview(got)}`);
  }

  private get(field: string): unknown {
    this.used.add(field);
    return this.raw[field];
  }

  has(field: string): boolean {
    return this.raw[field] !== undefined && this.raw[field] !== null;
  }

  /**
   * A positive (or non-negative with min 0) safe integer; `def` undefined means the field is
   * required. `max` (see size-limits.ts) bounds size fields, so that no value reaches an allocation
   * unchecked.
   */
  int(field: string, def?: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.get(field);
    if (v === undefined || v === null) {
      if (def === undefined) throw new FormatError(this.source, `missing required field "${field}" (an integer >= ${min})`);
      return def;
    }
    // isSafeInteger, not isInteger: 1e300 is an integer to JavaScript, and no size or count.
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) this.fail(field, `an integer >= ${min}`, v);
    if (v > max) {
      throw new FormatError(this.source, `field "${field}": ${v} is more than ${max.toLocaleString('en-US')}, the most accepted (far beyond any released model: the value is wrong)`);
    }
    return v;
  }

  /** A size field: an integer in [min, max]; see size-limits.ts for the bounds. */
  size(field: string, max: number, def?: number, min = 1): number {
    return this.int(field, def, min, max);
  }

  number(field: string, def?: number, check: (x: number) => boolean = () => true, what = 'a number'): number {
    const v = this.get(field);
    if (v === undefined || v === null) {
      if (def === undefined) throw new FormatError(this.source, `missing required field "${field}" (${what})`);
      return def;
    }
    if (typeof v !== 'number' || !Number.isFinite(v) || !check(v)) this.fail(field, what, v);
    return v;
  }

  bool(field: string, def: boolean): boolean {
    const v = this.get(field);
    if (v === undefined || v === null) return def;
    if (typeof v !== 'boolean') this.fail(field, 'true or false', v);
    return v;
  }

  string(field: string, def?: string, allowed?: readonly string[]): string {
    const v = this.get(field);
    if (v === undefined || v === null) {
      if (def === undefined) throw new FormatError(this.source, `missing required field "${field}"`);
      return def;
    }
    if (typeof v !== 'string' || (allowed && !allowed.includes(v))) {
      this.fail(field, allowed ? `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}` : 'a string', v);
    }
    return v;
  }

  /** A rank that may be "auto" (Mamba's time_step_rank, Jamba's mamba_dt_rank): `auto` when "auto" or absent. */
  rankOrAuto(field: string, auto: number, max: number): number {
    const v = this.raw[field];
    if (v === 'auto') return (this.used.add(field), auto);
    if (typeof v === 'string') this.fail(field, '"auto" or an integer >= 1', v);
    return this.size(field, max, auto);
  }

  /** A token id in [0, vocabSize), or null when absent or null (HF's "none"). */
  tokenId(field: string, vocabSize: number): number | null {
    const v = this.get(field);
    if (v === undefined || v === null) return null;
    this.checkTokenId(field, v, vocabSize);
    return v;
  }

  /** A token id, a list of token ids (eos_token_id may be either), or null; each in [0, vocabSize). */
  tokenIdOrList(field: string, vocabSize: number): number | number[] | null {
    const v = this.get(field);
    if (v === undefined || v === null) return null;
    if (!Array.isArray(v)) {
      this.checkTokenId(field, v, vocabSize, ' or a list of them');
      return v;
    }
    v.forEach((x: unknown, i) => this.checkTokenId(`${field}[${i}]`, x, vocabSize));
    return v as number[];
  }

  private checkTokenId(field: string, v: unknown, vocabSize: number, orList = ''): asserts v is number {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v >= vocabSize) {
      const hint = v === -1 ? ' (null means none)' : '';
      throw new FormatError(
        this.source,
        `field "${field}": expected a token id of this model, an integer in [0, ${vocabSize}) (vocab_size ${vocabSize})${orList}, got ${preview(v)}${hint}`,
      );
    }
  }

  /** Marks fields that are read elsewhere or known and deliberately ignored. */
  known(...fields: string[]): void {
    for (const f of fields) this.used.add(f);
  }

  /** Fields present in the file that nothing read. */
  unknownFields(): string[] {
    return Object.keys(this.raw).filter((k) => !this.used.has(k));
  }
}

/** A value as JSON for an error, cut short: a message names what is wrong, it does not echo the file. */
export function preview(v: unknown, max = 60): string {
  // Strings through quoteForMessage (cut, control and bidi characters escaped); small arrays and
  // objects are shown as JSON, cut at `max`, since a config's lists are short and worth seeing.
  if (v === undefined) return 'undefined';
  if (typeof v !== 'object' || v === null) return quoteForMessage(v, max);
  const text = JSON.stringify(v) ?? String(v);
  return text.length > max ? `${quoteForMessage(text.slice(0, max)).slice(1, -1)}…` : quoteForMessage(text).slice(1, -1);
}

/** Fields every HF PretrainedConfig may carry that do not change the computation. */
export const GENERIC_CONFIG_FIELDS = [
  'architectures', 'model_type', 'transformers_version', 'torch_dtype', 'dtype', 'use_cache',
  'bos_token_id', 'pad_token_id', 'eos_token_id', 'initializer_range', 'tie_word_embeddings',
  '_name_or_path', 'return_dict', 'output_hidden_states', 'output_attentions', 'is_encoder_decoder',
  'id2label', 'label2id', 'problem_type', 'tokenizer_class', 'chunk_size_feed_forward',
  'max_position_embeddings', 'name_or_path', 'quantization_config', 'auto_map',
];
