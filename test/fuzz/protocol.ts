/**
 * What the fuzz properties (parent, test/fuzz/*.test.ts) send to the worker child (worker.ts) and
 * what comes back. Everything here crosses a process boundary (IPC with structured clone), so it is
 * plain data: strings, numbers, typed arrays.
 */

/** Text files may name the case's own folders; the worker substitutes these before writing. */
export const SANDBOX_TOKEN = '@@SANDBOX@@';
export const ORIGIN_TOKEN = '@@ORIGIN@@';

/**
 * One entry to create in the case's sandbox folder (paths relative to it; the model root is
 * `model/`). Applied in order, after the base folder (if any) was copied to `model/`.
 */
export type FileSpec =
  | { path: string; bytes: Uint8Array }
  /** UTF-8 text in which SANDBOX_TOKEN / ORIGIN_TOKEN are replaced by the sandbox path / server origin. */
  | { path: string; text: string }
  | { path: string; copyOf: string }
  | { path: string; symlinkTo: string }
  | { path: string; fifo: true }
  | { path: string; dir: true }
  | { path: string; remove: true };

/** What the worker does with the sandbox once it is written. */
export type Target =
  /** SafetensorsFile.parse of `model/<file>`'s bytes, with that path as the source. */
  | { kind: 'parse'; file: string }
  /** AutoModelForCausalLM.fromPretrained on the model root (a path, or a URL served on 127.0.0.1). */
  | { kind: 'causal-lm'; via: 'path' | 'http' }
  /** AutoModelForTimeSeriesForecasting.fromPretrained on the model root. */
  | { kind: 'forecaster' }
  /** AutoTokenizer.fromPretrained on the model root, then encode and decode each text. */
  | { kind: 'tokenizer'; texts: string[] }
  /** The `mamba-ts forecast` path: read the CSV (relative to the sandbox) and forecast with the model root's model. */
  | { kind: 'forecast-csv'; csv: string }
  /** Misbehaviour on purpose, to test that the harness catches each kind (harness.test.ts). */
  | { kind: 'self-test'; act: 'hang' | 'allocate' | 'throw-non-error' | 'read-outside' | 'fetch-outside' | 'exit' };

export interface FuzzCase {
  /** What the generator did, in words: the report of a failing case. */
  label: string;
  /** An absolute folder copied to `model/` first (prepared once by the parent), or none. */
  base?: string;
  files: FileSpec[];
  target: Target;
}

/** A tensor (or parameter) as it came out of a load. */
export interface LoadedTensor {
  name: string;
  dtype: string;
  shape: number[];
  /** Raw little-endian bytes for `parse`; float32 values for models. */
  data: Uint8Array | Float32Array;
}

export type Loaded =
  | { kind: 'parse'; metadata: [string, string][]; tensors: LoadedTensor[] }
  | { kind: 'model'; params: LoadedTensor[]; config?: Record<string, unknown> }
  | { kind: 'forecaster'; params: LoadedTensor[]; columns: unknown; scaler: unknown; config: Record<string, unknown> }
  /** decoded[i] is the text of encodings[i], or the message decode threw. */
  | { kind: 'tokenizer'; vocabSize: number; special: (number | undefined)[]; encodings: number[][]; decoded: ({ text: string } | { error: string })[] }
  | { kind: 'forecast-csv'; history: Float32Array; forecast: Float32Array }
  | { kind: 'self-test' };

/** Where the case ran: what error messages should name. */
export interface CaseWhere {
  /** The sandbox folder (absolute path). */
  sandbox: string;
  /** The model root as the loader was given it (a path, or a URL). */
  root: string;
  /** Local files opened, and URL paths requested, outside the model root but inside the sandbox. */
  escapes: string[];
}

export type Outcome =
  | ({ kind: 'loaded'; value: Loaded } & CaseWhere)
  | ({ kind: 'threw'; isError: boolean; name: string; message: string; stack?: string } & CaseWhere)
  /** The worker did not answer within the per-case time limit and was killed. */
  | { kind: 'timeout'; ms: number }
  /** The worker's resident memory passed the bound and it was killed. */
  | { kind: 'memory'; rssMb: number }
  /** The worker died by itself (heap limit reached, native crash). */
  | { kind: 'crashed'; detail: string };

export type WorkerRequest = { id: number; fuzzCase: FuzzCase };
export type WorkerReply = { id: number; outcome: Outcome; rssMb: number };
