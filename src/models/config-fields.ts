/**
 * Reading HF config.json fields with checks: each error names the file, the field, what was
 * expected and what was found.
 */
import { FormatError } from '../errors.js';

export class ConfigReader {
  readonly used = new Set<string>();
  constructor(
    readonly raw: Record<string, unknown>,
    readonly source: string,
  ) {}

  private fail(field: string, expected: string, got: unknown): never {
    throw new FormatError(this.source, `field "${field}": expected ${expected}, got ${JSON.stringify(got)}`);
  }

  private get(field: string): unknown {
    this.used.add(field);
    return this.raw[field];
  }

  has(field: string): boolean {
    return this.raw[field] !== undefined && this.raw[field] !== null;
  }

  /** A positive (or non-negative with min 0) integer; `def` undefined means the field is required. */
  int(field: string, def?: number, min = 1): number {
    const v = this.get(field);
    if (v === undefined || v === null) {
      if (def === undefined) throw new FormatError(this.source, `missing required field "${field}" (an integer >= ${min})`);
      return def;
    }
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) this.fail(field, `an integer >= ${min}`, v);
    return v;
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

  /** An integer, a list of integers, or null (eos_token_id may be either). */
  intOrList(field: string): number | number[] | null {
    const v = this.get(field);
    if (v === undefined || v === null) return null;
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
    if (Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0)) return v as number[];
    this.fail(field, 'a token id or a list of token ids', v);
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

/** Fields every HF PretrainedConfig may carry that do not change the computation. */
export const GENERIC_CONFIG_FIELDS = [
  'architectures', 'model_type', 'transformers_version', 'torch_dtype', 'dtype', 'use_cache',
  'bos_token_id', 'pad_token_id', 'eos_token_id', 'initializer_range', 'tie_word_embeddings',
  '_name_or_path', 'return_dict', 'output_hidden_states', 'output_attentions', 'is_encoder_decoder',
  'id2label', 'label2id', 'problem_type', 'tokenizer_class', 'chunk_size_feed_forward',
  'max_position_embeddings', 'name_or_path', 'quantization_config', 'auto_map',
];
