/**
 * Mamba language model, as HF `MambaForCausalLM` (mamba_ssm `MambaLMHeadModel`):
 *
 *   h₀ = embeddings(ids)
 *   hₗ = hₗ₋₁ + mixer(RMSNorm(hₗ₋₁))      for each layer (pre-norm residual)
 *   logits = lm_head(norm_f(h_L))          lm_head tied to the embeddings unless configured otherwise
 *
 * `forward` runs whole sequences in parallel (the selective scan); `nextLogits` with a cache runs
 * prompts in parallel and single tokens through the O(1) recurrent step.
 */
import { ArgumentError } from '../../errors.js';
import type { DeviceName } from '../../backend/registry.js';
import type { CausalLM, TokenPicker } from '../../generation/causal-lm.js';
import { generate, type GenerateOptions } from '../../generation/generate.js';
import { Embedding, Linear, RMSNorm } from '../../nn/layers.js';
import { MambaMixer, type MixerState } from '../../nn/mamba-mixer.js';
import { Module } from '../../nn/module.js';
import { add, linear, mambaBlockStepFused, prepareMambaBlockStep, reshape, rmsNormLinear, slice } from '../../ops/index.js';
import { keep, tidy } from '../../tensor/memory.js';
import { noGrad } from '../../autograd/tape.js';
import { Tensor } from '../../tensor/tensor.js';
import { fromPretrainedModel, saveModule, type ModelLoadOptions, type SaveDtype } from '../pretrained.js';
import { checkOptionKeys, optionKeys } from '../../options.js';
import { idsToTensor, shiftedCrossEntropy } from '../lm-inputs.js';
import { checkOutputSelection, collectSelection, summarizeLayer, type LayerSelection, type OutputSelection, type SelectionOutput } from '../selection.js';
import { MambaCache } from './cache.js';
import { MambaDecodeStepper } from './decode-stepper.js';
import { MambaDecodeGraphs } from './decode-graphs.js';
import { replayBackend } from '../decode-graph.js';
import { MAMBA_FLOAT_FIELDS, MambaConfig } from './config.js';

export class MambaBlock extends Module {
  readonly norm: RMSNorm;
  readonly mixer: MambaMixer;
  constructor(c: MambaConfig) {
    super();
    const f = c.fields;
    this.norm = this.child('norm', new RMSNorm(f.hidden_size, f.layer_norm_epsilon));
    this.mixer = this.child(
      'mixer',
      new MambaMixer({
        hiddenSize: f.hidden_size,
        intermediateSize: f.intermediate_size,
        stateSize: f.state_size,
        convKernel: f.conv_kernel,
        dtRank: f.time_step_rank,
        useBias: f.use_bias,
        useConvBias: f.use_conv_bias,
        selective: f.selective,
      }),
    );
  }
  /**
   * h (B, L, D) → h + mixer(norm(h)). With a state and one token, a device with a fused step
   * writes the new state into `spare()`'s buffers when given (see MambaCache.spare).
   */
  forward(h: Tensor, state?: MixerState | null, spare?: () => MixerState | null): { out: Tensor; state?: MixerState } {
    // The fused kernel knows neither the LTI ablation nor Jamba's inner norms.
    if (state && h.shape[1] === 1 && h.backend.mambaBlockStep && this.mixer.dims.selective && !this.mixer.innerNorms) {
      const fused = fusedStep(this, h, state, spare?.() ?? null);
      if (fused) return fused;
    }
    return tidy(() => {
      const m = this.mixer.forward(this.norm.forward(h), state);
      return { out: add(h, m.out), state: m.state };
    });
  }

  /**
   * The whole sequence h (B, L, D) in parallel, as forward(h), with the layer's selection: its
   * per-token summaries, and Δ, B, C themselves when `keepFull` (see models/selection.ts).
   */
  forwardSelecting(h: Tensor, keepFull: boolean): { out: Tensor; selection: LayerSelection } {
    return tidy(() => {
      const m = this.mixer.forward(this.norm.forward(h), undefined, undefined, { outputSelection: true });
      return { out: add(h, m.out), selection: summarizeLayer(m.selection!, keepFull) };
    });
  }
}

/**
 * Builds what the device's fused step makes from the block's parameters on first use, so that a
 * decode step recorded afterwards (MambaDecodeStepper) does not record making it (its replays
 * would copy the parameters again).
 */
function prepareFusedStep(block: MambaBlock): void {
  const m = block.mixer;
  if (!m.dims.selective || m.innerNorms || !block.norm.weight.value.backend.prepareMambaBlockStep) return;
  const convWeight = reshape(m.conv1d.weight.value, [m.dims.intermediateSize, m.dims.convKernel]);
  try {
    prepareMambaBlockStep({
      normWeight: block.norm.weight.value, eps: block.norm.eps, inProj: m.in_proj.weight.value, inProjBias: m.in_proj.bias?.value ?? null,
      convWeight, convBias: m.conv1d.bias?.value ?? null, xProj: m.x_proj.weight.value, dtProj: m.dt_proj.weight.value,
      dtProjBias: m.dt_proj.bias!.value, A: m.A(), D: m.D.value, outProj: m.out_proj.weight.value, outProjBias: m.out_proj.bias?.value ?? null,
    });
  } finally {
    convWeight.dispose();
  }
}

/** Where the device has a fused layer step (WebGPU), one token goes through it in three launches (four where the hidden size is not a multiple of 4). */
function fusedStep(block: MambaBlock, h: Tensor, state: MixerState, into: MixerState | null): { out: Tensor; state: MixerState } | null {
  const m = block.mixer;
  const [B, , H] = h.shape as [number, number, number];
  // Views only (no tidy on this per-token path): disposed right after the call.
  const h2 = reshape(h, [B, H]);
  const convWeight = reshape(m.conv1d.weight.value, [m.dims.intermediateSize, m.dims.convKernel]);
  try {
    const r = mambaBlockStepFused({
      h: h2,
      normWeight: block.norm.weight.value,
      eps: block.norm.eps,
      inProj: m.in_proj.weight.value,
      inProjBias: m.in_proj.bias?.value ?? null,
      convWeight,
      convBias: m.conv1d.bias?.value ?? null,
      convState: state.conv,
      xProj: m.x_proj.weight.value,
      dtProj: m.dt_proj.weight.value,
      dtProjBias: m.dt_proj.bias!.value,
      A: m.A(),
      D: m.D.value,
      outProj: m.out_proj.weight.value,
      outProjBias: m.out_proj.bias?.value ?? null,
      ssmState: state.ssm,
      ...(into ? { convStateOut: into.conv, ssmStateOut: into.ssm } : {}),
    });
    if (!r) return null;
    const out = reshape(r.out, [B, 1, H]);
    r.out.dispose();
    return { out, state: { conv: r.convState, ssm: r.ssmState } };
  } finally {
    h2.dispose();
    convWeight.dispose();
  }
}

export class MambaModel extends Module {
  readonly embeddings: Embedding;
  readonly layers: MambaBlock[];
  readonly norm_f: RMSNorm;
  constructor(c: MambaConfig) {
    super();
    const f = c.fields;
    this.embeddings = this.child('embeddings', new Embedding(f.vocab_size, f.hidden_size));
    this.layers = this.childList('layers', Array.from({ length: f.num_hidden_layers }, () => new MambaBlock(c)));
    this.norm_f = this.child('norm_f', new RMSNorm(f.hidden_size, f.layer_norm_epsilon));
  }
}

export interface ForwardOptions {
  /** Also return HF's `hidden_states`: the residual stream after each layer, then norm_f's output. */
  outputHiddenStates?: boolean;
  /** Next-token targets (usually the input ids; -100 = ignore): adds HF's shifted mean cross-entropy `loss`. */
  labels?: number[][];
  /**
   * Also return `selection`: per layer, the selection tensors Δ, B, C the scan consumed, and
   * per-token summaries of them (mean Δ, ‖B‖, ‖C‖). `'summary'`: the summaries only, without
   * keeping any (B, L, ED) tensor. The logits are the same with or without it.
   */
  outputSelection?: OutputSelection;
}

export interface CausalLMOutput {
  logits: Tensor; // (B, L, V)
  hiddenStates?: Tensor[]; // each (B, L, D)
  /** Scalar mean cross-entropy of logits[:, :-1] against labels[:, 1:], when labels were given. */
  loss?: Tensor;
  /** With outputSelection (Mamba layers only): Δ, B, C per layer and their per-token summaries. */
  selection?: SelectionOutput;
}

/** The keys of ForwardOptions (checked against the interface at compile time). */
export const FORWARD_OPTION_KEYS = optionKeys<ForwardOptions>({ outputHiddenStates: true, labels: true, outputSelection: true });

export type FromPretrainedOptions = ModelLoadOptions;

export class MambaForCausalLM extends Module implements CausalLM<MambaCache> {
  readonly backbone: MambaModel;
  /** null when tied: the embedding matrix is the output projection. */
  readonly lm_head: Linear | null;
  /** Decode steps recorded by earlier generations, kept per batch size and picker (decode-graphs.ts). */
  private readonly decodeGraphs = new MambaDecodeGraphs();

  constructor(readonly config: MambaConfig) {
    super();
    this.backbone = this.child('backbone', new MambaModel(config));
    const f = config.fields;
    this.lm_head = f.tie_word_embeddings ? null : this.child('lm_head', new Linear(f.hidden_size, f.vocab_size, false));
  }

  get vocabSize(): number {
    return this.config.vocabSize;
  }
  get eosTokenId(): number | number[] | null {
    return this.config.fields.eos_token_id;
  }
  get padTokenId(): number | null {
    return this.config.fields.pad_token_id;
  }
  get device(): string {
    return this.backbone.embeddings.weight.value.device;
  }

  /** From a model folder, or a Hub id (`owner/name`) fetched through HuggingFace's cache. */
  static async fromPretrained(idOrDir: string, o: FromPretrainedOptions = {}): Promise<MambaForCausalLM> {
    // Original mamba_ssm checkpoints name the embedding backbone.embedding.
    return fromPretrainedModel('MambaForCausalLM', idOrDir, o, (json, source) => MambaConfig.fromJSON(json, source), (c) => new MambaForCausalLM(c), () => [['backbone.embedding.', 'backbone.embeddings.']]);
  }

  /** Saves in HF's layout (config.json + model.safetensors), loadable by transformers. */
  async save(dir: string, o: { dtype?: SaveDtype; maxShardBytes?: number } = {}): Promise<void> {
    await saveModule(this, dir, this.config.toJSON(), { ...o, floatFields: MAMBA_FLOAT_FIELDS });
  }

  /** Turns number[][] into an int32 (B, L) tensor, checking shape and vocabulary range. */
  idsTensor(ids: number[][]): Tensor {
    return idsToTensor(ids, this.vocabSize, this.device as DeviceName);
  }

  /** The LM head's weight: lm_head's, or the embedding's when tied. */
  private lmWeight(): Tensor {
    return this.lm_head ? this.lm_head.weight.value : this.backbone.embeddings.weight.value;
  }

  private logitsOf(h: Tensor): Tensor {
    return linear(h, this.lmWeight());
  }

  /** Whole sequences in parallel: logits (B, L, V) and optionally the hidden states, loss and selection. */
  async forward(inputIds: number[][] | Tensor, o: ForwardOptions = {}): Promise<CausalLMOutput> {
    return this.forwardSync(inputIds, o);
  }

  /**
   * As forward(). inputIds may be an int32 (B, L) tensor on the model's device (a recorded
   * training step reads its ids from a fixed buffer); its ids are not checked against the vocabulary.
   */
  forwardSync(inputIds: number[][] | Tensor, o: ForwardOptions = {}): CausalLMOutput {
    checkOptionKeys('forward', o, FORWARD_OPTION_KEYS);
    const selecting = checkOutputSelection('forward', o.outputSelection);
    const onDevice = inputIds instanceof Tensor;
    if (onDevice && (inputIds.dtype !== 'i32' || inputIds.rank !== 2 || inputIds.device !== this.device)) {
      throw new ArgumentError(`forward: inputIds as a tensor must be int32 (B, L) on ${this.device}, got ${inputIds.dtype} [${inputIds.shape.join(', ')}] on ${inputIds.device}`);
    }
    return tidy(() => {
      // Anything but a tensor goes through idsToTensor's checks (and its errors for wrong kinds).
      let h = this.backbone.embeddings.forward(onDevice ? inputIds : this.idsTensor(inputIds)); // (B, L, D)
      const hiddenStates: Tensor[] = [];
      const selections: LayerSelection[] = [];
      for (const layer of this.backbone.layers) {
        if (selecting) {
          const r = layer.forwardSelecting(h, selecting === true);
          selections.push(r.selection);
          h = r.out;
        } else {
          h = layer.forward(h).out;
        }
        if (o.outputHiddenStates) hiddenStates.push(h);
      }
      const normed = this.backbone.norm_f.forward(h);
      if (o.outputHiddenStates) hiddenStates.push(normed);
      const logits = this.logitsOf(normed);
      const out: CausalLMOutput = { logits };
      if (o.outputHiddenStates) out.hiddenStates = hiddenStates;
      if (selecting) out.selection = collectSelection(selections.map((_, i) => i), selections);
      if (o.labels) out.loss = shiftedCrossEntropy(logits, o.labels, this.device as DeviceName);
      return out;
    });
  }

  createCache(batchSize: number): MambaCache {
    return new MambaCache(batchSize, this.config.numLayers);
  }

  nextLogits(ids: number[][] | Tensor, cache: MambaCache): Tensor {
    const rows = Array.isArray(ids) ? ids.length : ids.shape[0]!;
    const L = Array.isArray(ids) ? (ids[0]?.length ?? 0) : ids.shape[1]!;
    if (rows !== cache.batchSize) {
      throw new ArgumentError(`nextLogits: ${rows} sequences given, the cache holds ${cache.batchSize}`);
    }
    const logits = tidy(() => {
      const idsT = Array.isArray(ids) ? this.idsTensor(ids) : ids;
      let h = this.backbone.embeddings.forward(idsT); // (B, L, D)
      this.backbone.layers.forEach((layer, i) => {
        const r = layer.forward(h, cache.states[i] ?? null, () => cache.spare(i));
        cache.update(i, { conv: keep(r.state!.conv), ssm: keep(r.state!.ssm) });
        h = r.out;
      });
      const [B, L, D] = h.shape as [number, number, number];
      const last = L === 1 ? h : slice(h, 1, L - 1, 1);
      const norm = this.backbone.norm_f;
      return rmsNormLinear(reshape(last, [B, D]), norm.weight.value, norm.eps, this.lmWeight()); // (B, V)
    });
    cache.seqlenOffset += L;
    return logits;
  }

  /**
   * Decode steps replayed from recorded device work (MambaDecodeStepper), where the device records
   * work (WebGPU) and has the fused layer step; null elsewhere. With `pickKey`, the recordings are
   * kept for the next generation with the same batch size and key (MambaDecodeGraphs).
   * MAMBA_TS_DECODE_GRAPH=0 turns replay off, for comparison.
   */
  decodeStepper(cache: MambaCache, pick: TokenPicker, pickKey?: string): MambaDecodeStepper | null {
    const backend = replayBackend(this.backbone.embeddings.weight.value.backend);
    if (!backend?.mambaBlockStep) return null;
    // Outside the recordings: the fused steps' parameter packs.
    for (const block of this.backbone.layers) noGrad(() => prepareFusedStep(block));
    const states = cache.filledStates();
    // Kept recordings bind the parameters' buffers (and what the backend derived from them): they
    // are keyed on the parameters' versions.
    const slot = pickKey === undefined ? null : this.decodeGraphs.lease(cache.batchSize, pickKey, states, this.namedParameters().map(([, p]) => p.version).join(','));
    try {
      return new MambaDecodeStepper(this, cache, backend, pick, slot && { slot, release: () => this.decodeGraphs.release(slot) });
    } catch (e) {
      if (slot) this.decodeGraphs.release(slot);
      throw e;
    }
  }

  /**
   * Frees the decode recordings kept for later generations (and the state buffers they decode in:
   * up to 2 × 64 MiB); the next generation records its steps again.
   */
  releaseDecodeRecordings(): void {
    this.decodeGraphs.clear();
  }

  /** Frees the parameters and the kept decode recordings. */
  override dispose(): void {
    this.decodeGraphs.dispose();
    super.dispose();
  }

  /** Prompt + new tokens per row (see generation/generate.ts for the options). */
  async generate(inputIds: number[][], o: GenerateOptions = {}): Promise<number[][]> {
    return generate(this, inputIds, o);
  }
}
