/**
 * Mamba-2 language model, as HF `Mamba2ForCausalLM` (mamba_ssm `MambaLMHeadModel` with Mamba2
 * layers), with HF's parameter names:
 *
 *   h₀ = backbone.embeddings(ids)
 *   hₗ = hₗ₋₁ + mixer(RMSNorm(hₗ₋₁))      for each layer (pre-norm residual)
 *   logits = lm_head(norm_f(h_L))          lm_head tied to the embeddings when tie_word_embeddings
 *
 * `forward` runs whole sequences through the chunked SSD algorithm; `nextLogits` with a cache runs
 * prompts the same way and single tokens through the O(1) recurrent step.
 */
import { ArgumentError } from '../../errors.js';
import type { DeviceName } from '../../backend/registry.js';
import type { CausalLM, TokenPicker } from '../../generation/causal-lm.js';
import { generate, type GenerateOptions } from '../../generation/generate.js';
import { checkAttentionMask, hasPadding, tokenMaskTensor } from '../../generation/attention-mask.js';
import { Embedding, Linear, RMSNorm } from '../../nn/layers.js';
import { Module } from '../../nn/module.js';
import { add, linear, reshape, rmsNormLinear, slice } from '../../ops/index.js';
import { keep, tidy } from '../../tensor/memory.js';
import type { Tensor } from '../../tensor/tensor.js';
import { fromPretrainedModel, saveModule, type ModelLoadOptions, type SaveDtype } from '../pretrained.js';
import { checkOptionKeys, optionKeys } from '../../options.js';
import { idsToTensor, shiftedCrossEntropy } from '../lm-inputs.js';
import { Mamba2Cache } from './cache.js';
import { fusedBlockStep } from './fused-step.js';
import { Mamba2DecodeStepper } from './decode-stepper.js';
import { replayBackend } from '../decode-graph.js';
import { MAMBA2_FLOAT_FIELDS, Mamba2Config } from './config.js';
import { Mamba2Mixer, type Mamba2State } from './mixer.js';

export class Mamba2Block extends Module {
  readonly norm: RMSNorm;
  readonly mixer: Mamba2Mixer;
  constructor(c: Mamba2Config) {
    super();
    this.norm = this.child('norm', new RMSNorm(c.fields.hidden_size, c.fields.layer_norm_epsilon));
    this.mixer = this.child('mixer', new Mamba2Mixer(c));
  }

  /** h (B, L, D) → h + mixer(norm(h)), and the new state when a state (or null) was given. */
  forward(h: Tensor, state?: Mamba2State | null, tokenMask?: Tensor): { out: Tensor; state?: Mamba2State } {
    if (state && h.shape[1] === 1 && !tokenMask) return this.step(h, state);
    return tidy(() => {
      const m = this.mixer.forward(this.norm.forward(h), state, tokenMask);
      return m.state ? { out: add(h, m.out), state: m.state } : { out: add(h, m.out) };
    });
  }

  /**
   * One token h (B, 1, D) through the recurrent step: h + mixer(norm(h)) and the new state
   * (`inPlace` as Mamba2Mixer.step). A device with a fused layer step runs it (WebGPU: three
   * launches; the CPU: backend/cpu/mamba2-step.ts); elsewhere it goes op by op.
   */
  step(h: Tensor, state: Mamba2State, inPlace = false): { out: Tensor; state: Mamba2State } {
    const fused = fusedBlockStep(this, h, state, inPlace);
    if (fused) return fused;
    return tidy(() => {
      const m = this.mixer.step(this.norm.forward(h), state, inPlace);
      return { out: add(h, m.out), state: m.state };
    });
  }
}

export class Mamba2Model extends Module {
  readonly embeddings: Embedding;
  readonly layers: Mamba2Block[];
  readonly norm_f: RMSNorm;
  constructor(c: Mamba2Config) {
    super();
    const f = c.fields;
    this.embeddings = this.child('embeddings', new Embedding(f.vocab_size, f.hidden_size));
    this.layers = this.childList('layers', Array.from({ length: f.num_hidden_layers }, () => new Mamba2Block(c)));
    this.norm_f = this.child('norm_f', new RMSNorm(f.hidden_size, f.layer_norm_epsilon));
  }
}

export interface Mamba2ForwardOptions {
  /** Also return HF's `hidden_states`: the residual stream after each layer, then norm_f's output. */
  outputHiddenStates?: boolean;
  /** Next-token targets (usually the input ids; -100 = ignore): adds HF's shifted mean cross-entropy `loss`. */
  labels?: number[][];
  /** HF's attention_mask (B, L): 1 = a real token, 0 = padding (left padding). */
  attentionMask?: number[][];
}

export interface Mamba2CausalLMOutput {
  logits: Tensor; // (B, L, V)
  hiddenStates?: Tensor[]; // each (B, L, D)
  /** Scalar mean cross-entropy of logits[:, :-1] against labels[:, 1:], when labels were given. */
  loss?: Tensor;
}

/** The keys of Mamba2ForwardOptions (checked against the interface at compile time). */
export const MAMBA2_FORWARD_OPTION_KEYS = optionKeys<Mamba2ForwardOptions>({ outputHiddenStates: true, labels: true, attentionMask: true });

export class Mamba2ForCausalLM extends Module implements CausalLM<Mamba2Cache> {
  readonly backbone: Mamba2Model;
  /** null when tied: the embedding matrix is the output projection. */
  readonly lm_head: Linear | null;
  /** Left-padded batches: padding leaves the SSM state at zero (see Mamba2Mixer.forward). */
  readonly supportsAttentionMask = true;

  constructor(readonly config: Mamba2Config) {
    super();
    this.backbone = this.child('backbone', new Mamba2Model(config));
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
  static async fromPretrained(idOrDir: string, o: ModelLoadOptions = {}): Promise<Mamba2ForCausalLM> {
    return fromPretrainedModel('Mamba2ForCausalLM', idOrDir, o, (json, source) => Mamba2Config.fromJSON(json, source), (c) => new Mamba2ForCausalLM(c));
  }

  /** Saves in HF's layout (config.json + model.safetensors), loadable by transformers. */
  async save(dir: string, o: { dtype?: SaveDtype; maxShardBytes?: number } = {}): Promise<void> {
    await saveModule(this, dir, this.config.toJSON(), { ...o, floatFields: MAMBA2_FLOAT_FIELDS });
  }

  /** Turns number[][] into an int32 (B, L) tensor, checking shape and vocabulary range. */
  idsTensor(ids: number[][]): Tensor {
    return idsToTensor(ids, this.vocabSize, this.device as DeviceName);
  }

  /** The LM head's weight: lm_head's, or the embedding's when tied. */
  private lmWeight(): Tensor {
    return this.lm_head ? this.lm_head.weight.value : this.backbone.embeddings.weight.value;
  }

  /** Whole sequences in parallel: logits (B, L, V) and optionally the hidden states and loss. */
  async forward(inputIds: number[][], o: Mamba2ForwardOptions = {}): Promise<Mamba2CausalLMOutput> {
    return this.forwardSync(inputIds, o);
  }

  forwardSync(inputIds: number[][], o: Mamba2ForwardOptions = {}): Mamba2CausalLMOutput {
    checkOptionKeys('forward', o, MAMBA2_FORWARD_OPTION_KEYS);
    const B = inputIds.length;
    const L = inputIds[0]?.length ?? 0;
    if (o.attentionMask) checkAttentionMask(o.attentionMask, B, L);
    return tidy(() => {
      const tokenMask = hasPadding(o.attentionMask) ? tokenMaskTensor(o.attentionMask, this.device as DeviceName) : undefined;
      let h = this.backbone.embeddings.forward(this.idsTensor(inputIds)); // (B, L, D)
      const hiddenStates: Tensor[] = [];
      for (const layer of this.backbone.layers) {
        h = layer.forward(h, undefined, tokenMask).out;
        if (o.outputHiddenStates) hiddenStates.push(h);
      }
      const normed = this.backbone.norm_f.forward(h);
      if (o.outputHiddenStates) hiddenStates.push(normed);
      const logits = linear(normed, this.lmWeight());
      const out: Mamba2CausalLMOutput = { logits };
      if (o.outputHiddenStates) out.hiddenStates = hiddenStates;
      if (o.labels) out.loss = shiftedCrossEntropy(logits, o.labels, this.device as DeviceName);
      return out;
    });
  }

  createCache(batchSize: number): Mamba2Cache {
    return new Mamba2Cache(batchSize, this.config.numLayers);
  }

  /**
   * Feeds the next tokens of every row through the model, advancing `cache`; the logits of the last
   * position (B, V). `attentionMask` (B, L) marks left padding among these tokens.
   */
  nextLogits(ids: number[][] | Tensor, cache: Mamba2Cache, attentionMask?: number[][]): Tensor {
    const rows = Array.isArray(ids) ? ids.length : ids.shape[0]!;
    const L = Array.isArray(ids) ? (ids[0]?.length ?? 0) : ids.shape[1]!;
    if (rows !== cache.batchSize) {
      throw new ArgumentError(`nextLogits: ${rows} sequences given, the cache holds ${cache.batchSize}`);
    }
    if (attentionMask) checkAttentionMask(attentionMask, rows, L);
    const logits = tidy(() => {
      const tokenMask = hasPadding(attentionMask) ? tokenMaskTensor(attentionMask, this.device as DeviceName) : undefined;
      const idsT = Array.isArray(ids) ? this.idsTensor(ids) : ids;
      let h = this.backbone.embeddings.forward(idsT); // (B, L, D)
      this.backbone.layers.forEach((layer, i) => {
        const r = layer.forward(h, cache.states[i] ?? null, tokenMask);
        cache.update(i, { conv: keep(r.state!.conv), ssm: keep(r.state!.ssm) });
        h = r.out;
      });
      const [B, Lh, D] = h.shape as [number, number, number];
      const last = Lh === 1 ? h : slice(h, 1, Lh - 1, 1);
      const norm = this.backbone.norm_f;
      return rmsNormLinear(reshape(last, [B, D]), norm.weight.value, norm.eps, this.lmWeight()); // (B, V)
    });
    cache.seqlenOffset += L;
    return logits;
  }

  /**
   * One token per row (ids int32 (B, 1) on the model's device) through the recurrent step, device
   * work only: each layer's new state is written over its cached one (the tensors stay the same,
   * so the step can be recorded and replayed); leaves seqlenOffset to the caller. Every layer must
   * already have a state (the prompt went through).
   */
  stepInPlace(ids: Tensor, cache: Mamba2Cache): Tensor {
    return tidy(() => {
      let h = this.backbone.embeddings.forward(ids); // (B, 1, D)
      this.backbone.layers.forEach((layer, i) => {
        const state = cache.states[i];
        if (!state) throw new ArgumentError(`stepInPlace: layer ${i} has no state yet (feed the prompt first)`);
        h = layer.step(h, state, true).out;
      });
      const [B, , D] = h.shape as [number, number, number];
      const norm = this.backbone.norm_f;
      return rmsNormLinear(reshape(h, [B, D]), norm.weight.value, norm.eps, this.lmWeight()); // (B, V)
    });
  }

  /**
   * Decode steps replayed from recorded device work (Mamba2DecodeStepper), where the device records
   * work (WebGPU) and every layer has a state; null elsewhere. MAMBA_TS_DECODE_GRAPH=0 turns it off.
   */
  decodeStepper(cache: Mamba2Cache, pick: TokenPicker): Mamba2DecodeStepper | null {
    const backend = replayBackend(this.backbone.embeddings.weight.value.backend);
    if (!backend || cache.states.some((s) => s === null)) return null;
    return new Mamba2DecodeStepper(this, cache, backend, pick);
  }

  /** Prompt + new tokens per row (see generation/generate.ts for the options). */
  async generate(inputIds: number[][], o: GenerateOptions = {}): Promise<number[][]> {
    return generate(this, inputIds, o);
  }
}
