/**
 * mamba-ts: selective state space models (Mamba) in TypeScript, on the CPU and WebGPU.
 * The public API; everything a user imports comes from here.
 */
export { Tensor } from './tensor/tensor.js';
export type { DType } from './tensor/dtype.js';
export { tidy, dispose, keep, liveTensorCount } from './tensor/memory.js';
export { cpuKernelInfo, getBackend, initCpu, initWebGPU, setCpuThreads, setDefaultDevice, type CpuKernelInfo, type DeviceName } from './backend/registry.js';
export * as ops from './ops/index.js';
export { tensor, zeros, scalar } from './ops/create.js';
export { FormatError, ArgumentError, UnsupportedError, HubError, DiskFullError } from './errors.js';

export { Module, Parameter } from './nn/module.js';
export { Linear, Embedding, RMSNorm } from './nn/layers.js';
export { LayerNorm } from './nn/layer-norm.js';
export { CausalConv1d } from './nn/conv.js';
export { MambaMixer, type MambaMixerDims, type MixerState, type MixerSelection } from './nn/mamba-mixer.js';

export { AutoModelForCausalLM, type AutoLoadOptions, type DeviceChoice } from './models/auto.js';
export { MambaConfig, type MambaConfigFields } from './models/mamba/config.js';
export { MambaForCausalLM, MambaModel, MambaBlock, type CausalLMOutput, type ForwardOptions } from './models/mamba/modeling.js';
export { JambaForCausalLM, type JambaOutput, type JambaForwardOptions } from './models/jamba/modeling.js';
export type { OutputSelection, SelectionOutput } from './models/selection.js';
export { JambaConfig } from './models/jamba/config.js';
export { LlamaForCausalLM, LlamaModel, LlamaDecoderLayer, type LlamaForwardOptions } from './models/llama/modeling.js';
export { LlamaConfig, type LlamaConfigFields } from './models/llama/config.js';
export { LlamaCache } from './models/llama/cache.js';
export { initLlamaWeights } from './models/llama/init.js';
export { expertFractions, expertFractionsFromCounts } from './nn/moe.js';
export { leftPad } from './generation/attention-mask.js';
export { MambaCache } from './models/mamba/cache.js';

export { AutoTokenizer, PreTrainedTokenizer, type BatchEncoding, type TokenizerCallOptions, type EncodeOptions, type DecodeOptions } from './io/tokenizer.js';
export { isHubId, type HubOptions } from './io/hub.js';
export type { PretrainedOptions, ModelLoadOptions } from './models/pretrained.js';
export { pipeline, TextGenerationPipeline, SUPPORTED_TASKS, type PipelineTask, type PipelineOptions, type TextGenerationOptions, type TextGenerationOutput, type GenerativeModel } from './pipelines.js';
export type { ProgressCallback, ProgressInfo, LoadProgress, DownloadProgress } from './io/progress.js';
export { SafetensorsFile, serializeSafetensors } from './io/safetensors.js';
export { encodeGguf, type GgufToWrite, type GgufTensorToWrite } from './io/gguf-write.js';
export { parseGguf, ggufTensorValues, type GgufFile, type GgufTensorInfo } from './io/gguf-read.js';
export type { GgufValue, GgufTensorType } from './io/gguf-format.js';
export { byteLevelBpeGgufMetadata, byteGgufMetadata, type SpecialTokenIds } from './io/gguf-tokenizer.js';
export { mambaGguf, type MambaGgufOptions } from './models/mamba/gguf.js';
export { folderFromFiles, type MemoryFolder, type FileContents } from './io/memory-folder.js';

export { generate, generateSteps, type GenerateOptions, type Streamer } from './generation/generate.js';
export type { SamplingOptions } from './generation/logits-process.js';
export { TextStreamer } from './generation/streamer.js';
export type { CausalLM, DecodeCache } from './generation/causal-lm.js';
export { backward, noGrad, gradcheck, releaseGraph, type GradSlot } from './autograd/index.js';
export { AdamW, clipGradNorm, mambaNoDecay, type AdamWOptions } from './train/adamw.js';
export { trainStep, clipAndUpdate, type TrainStepOptions, type TrainStepResult } from './train/train-step.js';
export { ReplayedTrainStep, type ReplayedStepOptions, type ReplayedStepInput } from './train/replayed-step.js';
export { CharCorpus, sampleWindows } from './train/char-data.js';
export { SGD } from './train/sgd.js';
export { warmupCosine, type WarmupCosine } from './train/schedule.js';
export { saveCheckpoint, loadCheckpoint, type TrainerState } from './train/checkpoint.js';
export { loadIdxImageSet, loadMnistTest, strideSplit, type ImageSet } from './train/image-data.js';
export { runImageTraining, type ImageTrainResult } from './train/image-trainer.js';
export { parseImageTrainConfig, type ImageTrainConfig } from './train/image-train-config.js';
export { runTraining, NonFiniteLossError, type TrainingOptions, type TrainResult, type Progress as TrainProgress } from './train/trainer.js';
export { parseTrainConfig, type TrainConfig } from './train/train-config.js';
export { runForecastTraining, evaluateForecaster, type ForecastTrainingOptions, type ForecastResult, type ForecastEpoch, type ForecastMetrics, type EvaluateOptions } from './train/forecast-trainer.js';
export { parseForecastConfig, type ForecastTrainConfig } from './train/forecast-config.js';

export { AutoModelForTimeSeriesForecasting, ForecastingModel, type ForecastLoadOptions } from './timeseries/auto.js';
export type { Forecaster, ForecasterConfig } from './timeseries/forecaster.js';
export { NonFiniteForecastError } from './timeseries/forecast.js';

export * as mambamixer from './models/mambamixer/index.js';

export { Mamba2Config, type Mamba2ConfigFields } from './models/mamba2/config.js';
export { Mamba2ForCausalLM, Mamba2Model, Mamba2Block, type Mamba2CausalLMOutput, type Mamba2ForwardOptions } from './models/mamba2/modeling.js';
export { Mamba2Mixer, GatedRMSNorm, type Mamba2State } from './models/mamba2/mixer.js';
export { Mamba2Cache } from './models/mamba2/cache.js';
export { initMamba2Weights } from './models/mamba2/init.js';
