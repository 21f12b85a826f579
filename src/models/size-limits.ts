/**
 * Upper bounds on the size fields of model configs, checked when a config is read and before any
 * module is built: a config.json is a file from elsewhere, and `num_hidden_layers: 1e9` must be an
 * error naming the field, not a process that builds a billion layers until it runs out of memory.
 *
 * Each bound is far above every released model (the comment says which is the largest we know of),
 * so no real checkpoint meets one; they only keep the arithmetic on sizes exact and a hostile or
 * mistyped value from reaching an allocation.
 */
import { FormatError } from '../errors.js';

export const SIZE_LIMITS = {
  /** Blocks of a stack. Deepest released LMs: ~126 layers (Llama 3.1 405B); Jamba-1.5-Large: 72. */
  layers: 1024,
  /** Experts of one MoE layer. Most released: 384 (Kimi K2); DeepSeek-V3: 256; Jamba: 16. */
  experts: 1024,
  /**
   * Expert MLPs over all MoE layers, each a module of its own: most released about 23,000 (Kimi K2,
   * 60 × 384); DeepSeek-V3 58 × 256.
   */
  expertsInAll: 1 << 16,
  /** Attention heads (query or key/value). Most released: 128. */
  heads: 1024,
  /** Model width (hidden_size, d_model, a stage's channels). Widest released: ~25,600. */
  width: 65_536,
  /** Inner widths (intermediate_size, an expert's or the Mamba mixer's E). Widest released: ~73,728. */
  innerWidth: 1 << 20,
  /** Vocabulary. Largest released: ~262,144 (Gemma 3). */
  vocab: 1 << 24,
  /** SSM state size N per channel. Largest released: 256 (Mamba-2 variants). */
  stateSize: 4096,
  /** Convolution widths (Mamba's K is 4; ViM2's 2-D kernel 3). */
  convKernel: 1024,
  /** Expansion factors (Mamba: 2). */
  expand: 256,
  /** Rows of a forecasting window (lookback or horizon): the literature's longest are a few thousand. */
  seriesLength: 65_536,
  /** Variates of a forecasting model (columns of its CSV). */
  variates: 65_536,
  /** Image side in pixels; ImageNet models use 224–512. */
  imageSize: 16_384,
  /** Image channels (3 for RGB). */
  imageChannels: 1024,
  /** Classes of a classifier (ImageNet-21k: 21,843). */
  classes: 1 << 20,
  /** Stages of a hierarchical vision model (4 in ViM2, Swin, VMamba). */
  stages: 64,
} as const;

/**
 * All parameters of one model, about 4.4 × 10^12: above every released model (the largest open
 * ones are about 10^12), and small enough that counts, and counts × 8 bytes, stay exact integers.
 */
export const MAX_PARAMETERS = 2 ** 42;

/**
 * Elements of one fixed buffer a model builds from its config (DLinear's L × L moving-average
 * matrix, TSM2's patch matrix): 2^28 float32 values is 1 GiB.
 */
export const MAX_BUFFER_ELEMENTS = 2 ** 28;

/** The size fields that set a model's parameter count, as `name value` for errors. */
export function describeFields(fields: readonly (readonly [string, unknown])[]): string {
  return fields.map(([k, v]) => `${k} ${JSON.stringify(v)}`).join(', ');
}

/**
 * Refuses a config whose parameters (computed from its fields, nothing allocated) exceed
 * MAX_PARAMETERS; `fields` are the size fields that set the count, named in the error.
 */
export function checkParameterTotal(parameters: number, source: string, fields: readonly (readonly [string, unknown])[]): void {
  if (!(parameters <= MAX_PARAMETERS)) {
    throw new FormatError(
      source,
      `the config describes ${formatCount(parameters)} parameters (${describeFields(fields)}), more than the ${formatCount(MAX_PARAMETERS)} this library accepts; a size field is wrong`,
    );
  }
}

/** A fixed buffer of `elements` float32 values (what builds it named by `what`) must stay under MAX_BUFFER_ELEMENTS. */
export function checkBufferSize(elements: number, source: string, what: string): void {
  if (!(elements <= MAX_BUFFER_ELEMENTS)) {
    throw new FormatError(source, `${what} would hold ${formatCount(elements)} values (${formatBytes(elements * 4)}), more than the ${formatCount(MAX_BUFFER_ELEMENTS)} accepted`);
  }
}

/** 1234567 → "1,234,567"; counts past 2^53 (not exact any more) in exponent form. */
export function formatCount(n: number): string {
  return Number.isSafeInteger(n) ? n.toLocaleString('en-US') : n.toExponential(3);
}

export function formatBytes(b: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  let v = b;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${b} bytes` : `${v.toFixed(2)} ${units[i]}`;
}
