/**
 * The messages between the page (main thread) and the compute worker. Every request carries an id;
 * the worker answers with events for that id (progress, streamed tokens, losses) and ends with
 * exactly one 'done' or 'error'. All payloads are plain data (structured clone).
 */

/** What the page asks for. 'auto' takes WebGPU on a hardware adapter, else the CPU. */
export type DeviceRequest = 'auto' | 'webgpu' | 'cpu';

export interface Sampling {
  doSample: boolean;
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  repetitionPenalty: number;
  seed?: number;
}

/** A model folder the user picked (config.json, model.safetensors, tokenizer.json, …): read in the worker. */
export interface PickedFolder {
  name: string;
  files: File[];
}

export interface GenerateJob {
  kind: 'generate';
  /** A folder URL (relative to the page) or a Hub id; ignored when `folder` is given. */
  model: string;
  folder?: PickedFolder;
  prompt: string;
  maxNewTokens: number;
  sampling: Sampling;
  device: DeviceRequest;
}

export interface SelectionJob {
  kind: 'selection';
  model: string;
  folder?: PickedFolder;
  text: string;
  device: DeviceRequest;
}

export interface CopyingJob {
  kind: 'copying';
  /** Seed of the example; the same seed gives the same example. */
  seed: number;
  device: DeviceRequest;
}

export interface ForecastJob {
  kind: 'forecast';
  /** The data row the lookback window ends before (later rows are the truth). */
  end: number;
  device: DeviceRequest;
}

export interface TrainJob {
  kind: 'train';
  text: string;
  steps: number;
  hiddenSize: number;
  layers: number;
  seqLen: number;
  batchSize: number;
  lr: number;
  seed: number;
  /** Characters sampled from the trained model at the end (0: none). */
  sampleChars: number;
  device: DeviceRequest;
}

export type Job = GenerateJob | SelectionJob | CopyingJob | ForecastJob | TrainJob;
export type JobRequest = { id: number; job: Job };

/** Which device ran a job, in words, e.g. "webgpu (google swiftshader)" or "cpu — auto: no WebGPU". */
export interface DeviceUsed {
  device: 'cpu' | 'webgpu';
  description: string;
}

export interface GenerateResult {
  text: string;
  promptIds: number[];
  newIds: number[];
  tokensPerSecond: number;
  seconds: number;
}

/** Per Mamba layer (rows), per token (columns): Δ mean over channels, ‖B‖, ‖C‖. */
export interface SelectionResult {
  tokens: string[];
  layers: number[];
  deltaMean: number[][];
  bNorm: number[][];
  cNorm: number[][];
}

export interface CopyingModelResult {
  name: string;
  /** The model's argmax at each marker. */
  predictions: number[];
  correct: number;
  /** Accuracy recorded when the model was trained (results.json). */
  recordedAccuracy: number | null;
}

export interface CopyingResult {
  ids: number[];
  /** The data tokens in order: what the markers must recall. */
  answers: number[];
  vocab: number;
  models: CopyingModelResult[];
}

export interface ForecastResult {
  columns: string[];
  lookback: number;
  horizon: number;
  end: number;
  rows: number;
  historyIndex: string[];
  /** (L, M) row-major, the data's own scale. */
  history: number[];
  forecast: number[];
  truth: number[];
  truthIndex: string[];
  /** Mean squared error of the forecast against the truth over the steps with truth, all columns; null without truth. */
  mse: number | null;
  mae: number | null;
  /** The same MSE on the training scale (each column divided by its train-split std), as the model's recorded test MSE. */
  mseStandardized: number | null;
}

export interface TrainResult {
  losses: number[];
  seconds: number;
  parameters: number;
  sample: string;
}

export type JobResult = GenerateResult | SelectionResult | CopyingResult | ForecastResult | TrainResult;

export type WorkerEvent =
  | { id: number; type: 'device'; used: DeviceUsed }
  | { id: number; type: 'status'; text: string }
  | { id: number; type: 'text'; text: string; tokens: number; tokensPerSecond: number }
  | { id: number; type: 'loss'; step: number; loss: number }
  | { id: number; type: 'done'; result: JobResult }
  | { id: number; type: 'error'; message: string };
