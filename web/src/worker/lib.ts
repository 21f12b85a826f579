/**
 * The library as the worker uses it: the compiled package (dist/src), bundled by esbuild with the
 * browser conditions, so package.json's `imports` pick the browser twins of src/platform. Only this
 * file names those paths.
 */
export {
  AdamW,
  AutoModelForCausalLM,
  AutoModelForTimeSeriesForecasting,
  AutoTokenizer,
  CharCorpus,
  JambaForCausalLM,
  MambaConfig,
  MambaForCausalLM,
  TextStreamer,
  clipGradNorm,
  dispose,
  folderFromFiles,
  noGrad,
  sampleWindows,
  type ForecastingModel,
  type PreTrainedTokenizer,
  type Streamer,
} from '../../../dist/src/index.js';
export { chooseDevice, describeDecision } from '../../../dist/src/models/device-choice.js';
export { initMambaWeights } from '../../../dist/src/models/mamba/init.js';
export { selectiveCopyingBatch } from '../../../dist/src/experiments/synthetic-tasks.js';
export { RandomSource } from '../../../dist/src/ops/random.js';
export { forecastTable, readCsvForModel } from '../../../dist/src/timeseries/forecast.js';
