/**
 * Llama language model, as HF `LlamaForCausalLM` — the Transformer baseline the Mamba models are
 * measured against (docs/throughput.md):
 *
 *   h = embed_tokens(ids)
 *   per layer:  h = h + self_attn(input_layernorm(h))          causal GQA, q and k rotated by RoPE
 *               h = h + mlp(post_attention_layernorm(h))        SwiGLU
 *   logits = lm_head(norm(h))
 *
 * Built from the parts Jamba uses (CausalSelfAttention with the fused attention kernels and a KV
 * cache, the SwiGLU MLP, RMSNorm) plus the rope op. Parameter names are HF's, so checkpoints load
 * and save with no mapping. Everything is synchronous; forward() is async only to match the other
 * families.
 */
import { ArgumentError } from '../../errors.js';
import type { DeviceName } from '../../backend/registry.js';
import { CausalSelfAttention, type KvCache, type Rotation } from '../../nn/attention.js';
import { Embedding, Linear, RMSNorm } from '../../nn/layers.js';
import { JambaMLP } from '../../nn/moe.js';
import { Module } from '../../nn/module.js';
import { add, linear, reshape, rmsNormLinear, slice, tensor } from '../../ops/index.js';
import { checkAttentionMask, hasPadding, keyMaskTensor } from '../../generation/attention-mask.js';
import type { CausalLM, TokenPicker } from '../../generation/causal-lm.js';
import type { DevicePosition } from '../../nn/device-position.js';
import { replayBackend } from '../decode-graph.js';
import { LlamaDecodeStepper } from './decode-stepper.js';
import { generate, type GenerateOptions } from '../../generation/generate.js';
import type { Tensor } from '../../tensor/tensor.js';
import { tidy } from '../../tensor/memory.js';
import { fromPretrainedModel, saveModule, type ModelLoadOptions, type SaveDtype } from '../pretrained.js';
import { checkOptionKeys, optionKeys } from '../../options.js';
import { checkTokenIds } from '../../generation/token-ids.js';
import { idsToTensor, shiftedCrossEntropy } from '../lm-inputs.js';
import type { CausalLMOutput } from '../mamba/modeling.js';
import { refuseOutputSelection } from '../selection.js';
import { LLAMA_FLOAT_FIELDS, LlamaConfig } from './config.js';
import { LlamaCache } from './cache.js';
import { checkPositionIds, consecutivePositions, positionsFromMask, positionsTensor } from './positions.js';
import { ropeInverseFrequencies } from './rope-frequencies.js';

export class LlamaDecoderLayer extends Module {
  readonly input_layernorm: RMSNorm;
  readonly self_attn: CausalSelfAttention;
  readonly post_attention_layernorm: RMSNorm;
  readonly mlp: JambaMLP;

  constructor(c: LlamaConfig) {
    super();
    const f = c.fields;
    this.input_layernorm = this.child('input_layernorm', new RMSNorm(f.hidden_size, f.rms_norm_eps));
    this.self_attn = this.child(
      'self_attn',
      new CausalSelfAttention({ hiddenSize: f.hidden_size, numHeads: f.num_attention_heads, numKvHeads: f.num_key_value_heads, headDim: f.head_dim, bias: f.attention_bias }),
    );
    this.post_attention_layernorm = this.child('post_attention_layernorm', new RMSNorm(f.hidden_size, f.rms_norm_eps));
    this.mlp = this.child('mlp', new JambaMLP(f.hidden_size, f.intermediate_size, f.mlp_bias));
  }

  /**
   * h (B, L, H) → the layer's output. `past`: undefined without a cache; the layer's KvCache (null
   * at a sequence start) with one, which the new keys and values are appended to and which is
   * returned (a new one of `plannedLength` positions when that is known). Callers wrap this in tidy().
   */
  forward(h: Tensor, past: KvCache | null | undefined, rotation: Rotation, keyMask?: Tensor, plannedLength = 0): { out: Tensor; kv?: KvCache } {
    const x = this.input_layernorm.forward(h);
    let attended: Tensor;
    let kv: KvCache | undefined;
    if (past === undefined) {
      attended = this.self_attn.forward(x, undefined, keyMask, rotation);
    } else {
      const r = this.self_attn.forward(x, past, keyMask, rotation, plannedLength);
      attended = r.out;
      kv = r.kv;
    }
    const h1 = add(h, attended);
    const out = add(h1, this.mlp.forward(this.post_attention_layernorm.forward(h1)));
    return kv ? { out, kv } : { out };
  }

  /**
   * One token per row, h (B, 1, H), at the position `at` holds on the device (a replayable decode
   * step): its keys and values go into `kv` at at.length. Callers wrap this in tidy().
   */
  forwardStep(h: Tensor, kv: KvCache, at: DevicePosition, invFreq: Tensor): Tensor {
    const h1 = add(h, this.self_attn.stepAt(this.input_layernorm.forward(h), kv, at, invFreq));
    return add(h1, this.mlp.forward(this.post_attention_layernorm.forward(h1)));
  }
}

export class LlamaModel extends Module {
  readonly embed_tokens: Embedding;
  readonly layers: LlamaDecoderLayer[];
  readonly norm: RMSNorm;
  constructor(c: LlamaConfig) {
    super();
    const f = c.fields;
    this.embed_tokens = this.child('embed_tokens', new Embedding(f.vocab_size, f.hidden_size));
    this.layers = this.childList('layers', Array.from({ length: f.num_hidden_layers }, () => new LlamaDecoderLayer(c)));
    this.norm = this.child('norm', new RMSNorm(f.hidden_size, f.rms_norm_eps));
  }
}

export interface LlamaForwardOptions {
  /**
   * HF's `hidden_states`: the embeddings, the residual stream after layers 0..n-2, then norm's
   * output (n+1 tensors; the last one times lm_head gives the logits).
   */
  outputHiddenStates?: boolean;
  /** Next-token targets (-100 = ignore): adds `loss`, HF's shifted mean cross-entropy. */
  labels?: number[][];
  /**
   * HF's attention_mask (B, L): 1 = a real token, 0 = padding (left padding). Attention does not
   * look at padded keys. As in HF's forward, it does not move positions: pass positionIds for that
   * (RoPE sees only relative positions, so real tokens' logits agree either way up to rounding).
   */
  attentionMask?: number[][];
  /** HF's position_ids (B, L), integers in [0, 2^24); default 0, 1, …, L − 1 in every row. */
  positionIds?: number[][];
}

/** The keys of LlamaForwardOptions (checked against the interface at compile time). */
export const LLAMA_FORWARD_OPTION_KEYS = optionKeys<LlamaForwardOptions>({ outputHiddenStates: true, labels: true, attentionMask: true, positionIds: true });

export class LlamaForCausalLM extends Module implements CausalLM<LlamaCache> {
  readonly model: LlamaModel;
  /** null when tied: the embedding matrix is the output projection. */
  readonly lm_head: Linear | null;
  /** RoPE's inverse frequencies (head_dim / 2), from the config (HF's non-persistent inv_freq buffer). */
  readonly invFreq: Float32Array;

  constructor(readonly config: LlamaConfig) {
    super();
    const f = config.fields;
    this.model = this.child('model', new LlamaModel(config));
    this.lm_head = f.tie_word_embeddings ? null : this.child('lm_head', new Linear(f.hidden_size, f.vocab_size, false));
    this.invFreq = ropeInverseFrequencies(f.head_dim, f.rope_theta, f.rope_scaling);
  }

  get vocabSize(): number {
    return this.config.fields.vocab_size;
  }
  get device(): string {
    return this.model.embed_tokens.weight.value.device;
  }
  get eosTokenId(): number | number[] | null {
    return this.config.fields.eos_token_id;
  }
  get padTokenId(): number | null {
    return this.config.fields.pad_token_id;
  }
  readonly supportsAttentionMask = true;

  createCache(batchSize: number): LlamaCache {
    return new LlamaCache(batchSize, this.config.fields.num_hidden_layers);
  }

  /** RoPE for tokens at `positions`, as tensors on the model's device (call inside a tidy). */
  private rotation(positions: number[][], device: DeviceName): Rotation {
    return { positions: positionsTensor(positions, device), invFreq: tensor(this.invFreq, [this.invFreq.length], { device }) };
  }

  private outputWeight(): Tensor {
    return this.lm_head ? this.lm_head.weight.value : this.model.embed_tokens.weight.value;
  }

  /**
   * Feeds the next tokens of each sequence (a prompt, or one token) through the model on top of
   * `cache`, and returns the logits of the last position (B, V). `attentionMask` (B, L) marks
   * padding among these tokens (left-padded prompts); the cache remembers it, and positions count
   * real tokens only (as HF's generate).
   */
  nextLogits(ids: number[][] | Tensor, cache: LlamaCache, attentionMask?: number[][]): Tensor {
    const rows = Array.isArray(ids) ? ids.length : ids.shape[0]!;
    if (rows !== cache.batchSize) throw new ArgumentError(`nextLogits: ${rows} sequences given, the cache holds ${cache.batchSize}`);
    const L = Array.isArray(ids) ? (ids[0]?.length ?? 0) : ids.shape[1]!;
    if (attentionMask) checkAttentionMask(attentionMask, rows, L);
    const keys = cache.maskAfter(attentionMask ?? null, L); // over past and new tokens; null: no padding
    const positions = keys ? positionsFromMask(keys, L) : consecutivePositions(rows, L, cache.seqlenOffset);
    const device = this.device as DeviceName;
    const logits = tidy(() => {
      const rotation = this.rotation(positions, device);
      const keyMask = hasPadding(keys) ? keyMaskTensor(keys, device) : undefined;
      let h = this.model.embed_tokens.forward(Array.isArray(ids) ? this.idsTensor(ids) : ids);
      for (const [i, layer] of this.model.layers.entries()) {
        // A layer's temporaries go when it is done, and its input with them: a prompt chunk holds
        // one layer's activations at a time (all layers' at once took a 1.3B model at batch 64 ×
        // 256 positions past 80 GB).
        const input = h;
        h = tidy(() => {
          const r = layer.forward(input, cache.layers[i] ?? null, rotation, keyMask, cache.planned);
          cache.update(i, r.kv!);
          return r.out;
        });
        input.dispose();
      }
      const [B, , H] = h.shape as [number, number, number];
      const last = reshape(L === 1 ? h : slice(h, 1, L - 1, 1), [B, H]);
      const norm = this.model.norm;
      return rmsNormLinear(last, norm.weight.value, norm.eps, this.outputWeight()); // (B, V)
    });
    cache.seqlenOffset += L;
    cache.attentionMask = keys;
    return logits;
  }

  /**
   * One token per row through the model at the position `at` holds on the device, device work only
   * (see models/kv-decode-stepper.ts): the logits (B, V), the same numbers as nextLogits for that
   * token. Keys and values go into the cache's buffers at at.length, RoPE rotates by at.positions
   * with `invFreq` (this.invFreq on the device: uploaded beforehand, as a recording must not
   * upload); the host-side counters are the caller's to advance.
   */
  stepAt(ids: Tensor, cache: LlamaCache, at: DevicePosition, invFreq: Tensor): Tensor {
    const kvs = this.kvCaches(cache);
    return tidy(() => {
      let h = this.model.embed_tokens.forward(ids); // (B, 1, H)
      for (const [i, layer] of this.model.layers.entries()) h = layer.forwardStep(h, kvs[i]!, at, invFreq);
      const [B, , H] = h.shape as [number, number, number];
      const norm = this.model.norm;
      return rmsNormLinear(reshape(h, [B, H]), norm.weight.value, norm.eps, this.outputWeight()); // (B, V)
    });
  }

  /** Every layer's KV cache (all made: the prompt went through). */
  kvCaches(cache: LlamaCache): KvCache[] {
    return cache.layers.map((kv, i) => {
      if (!kv) throw new ArgumentError(`LlamaForCausalLM: layer ${i} has no KV cache yet (feed the prompt first)`);
      return kv;
    });
  }

  /** The RoPE position of each row's next token: as nextLogits would give it (real tokens only are counted). */
  nextPositions(cache: LlamaCache): number[] {
    const keys = cache.maskAfter(null, 1);
    const positions = keys ? positionsFromMask(keys, 1) : consecutivePositions(cache.batchSize, 1, cache.seqlenOffset);
    return positions.map((row) => row[0]!);
  }

  /**
   * Decode steps replayed from recorded device work (LlamaDecodeStepper), where the device records
   * work and has the device-positioned attention (WebGPU); null elsewhere, or when the cache has
   * not seen the prompt yet. MAMBA_TS_DECODE_GRAPH=0 turns it off, for comparison.
   */
  decodeStepper(cache: LlamaCache, pick: TokenPicker): LlamaDecodeStepper | null {
    const backend = replayBackend(this.model.embed_tokens.weight.value.backend);
    if (!backend) return null;
    if (!this.model.layers.every((l) => l.self_attn.canStepAt(cache.batchSize)) || cache.layers.some((kv) => kv === null)) return null;
    return new LlamaDecodeStepper(this, cache, backend, pick);
  }

  /** Prompt + new tokens per row (greedy or sampled; see generation/generate.ts). */
  async generate(inputIds: number[][], o: GenerateOptions = {}): Promise<number[][]> {
    return generate(this, inputIds, o);
  }

  /** Whole sequences in parallel: logits (B, L, V), and on request hidden states and the loss. */
  async forward(inputIds: number[][], o: LlamaForwardOptions = {}): Promise<CausalLMOutput> {
    return this.forwardSync(inputIds, o);
  }

  /** forward(), synchronously. Runs under the grad mode in force when it is called. */
  forwardSync(inputIds: number[][], o: LlamaForwardOptions = {}): CausalLMOutput {
    refuseOutputSelection('forward', o, 'Llama');
    checkOptionKeys('forward', o, LLAMA_FORWARD_OPTION_KEYS);
    checkTokenIds('inputIds', inputIds, this.vocabSize);
    const B = inputIds.length;
    const L = inputIds[0]?.length ?? 0;
    if (o.attentionMask) checkAttentionMask(o.attentionMask, B, L);
    if (o.positionIds !== undefined) checkPositionIds('positionIds', o.positionIds, B, L);
    const positions = o.positionIds ?? consecutivePositions(B, L, 0);
    const device = this.device as DeviceName;
    return tidy(() => {
      const rotation = this.rotation(positions, device);
      const keyMask = hasPadding(o.attentionMask) ? keyMaskTensor(o.attentionMask, device) : undefined;
      let h = this.model.embed_tokens.forward(this.idsTensor(inputIds)); // (B, L, H)
      const hidden: Tensor[] = [h];
      const n = this.model.layers.length;
      for (const [i, layer] of this.model.layers.entries()) {
        h = layer.forward(h, undefined, rotation, keyMask).out;
        if (i < n - 1) hidden.push(h); // HF records the input of each layer, not the last output
      }
      const normed = this.model.norm.forward(h);
      const logits = linear(normed, this.outputWeight()); // (B, L, V)
      const out: CausalLMOutput = { logits };
      if (o.outputHiddenStates) out.hiddenStates = [...hidden, normed];
      if (o.labels) out.loss = shiftedCrossEntropy(logits, o.labels, device);
      return out;
    });
  }

  /** Writes config.json and model.safetensors (HF names, loadable by transformers) to `dir`. */
  async save(dir: string, o: { dtype?: SaveDtype; maxShardBytes?: number } = {}): Promise<void> {
    await saveModule(this, dir, this.config.toJSON(), { ...o, floatFields: LLAMA_FLOAT_FIELDS });
  }

  /** From a model folder, or a Hub id (`owner/name`) fetched through HuggingFace's cache. */
  static async fromPretrained(idOrDir: string, o: ModelLoadOptions = {}): Promise<LlamaForCausalLM> {
    return fromPretrainedModel('LlamaForCausalLM', idOrDir, o, (json, source) => LlamaConfig.fromJSON(json, source), (c) => new LlamaForCausalLM(c));
  }

  /** number[][] → int32 (B, L), checking shape and vocabulary range. */
  idsTensor(ids: number[][]): Tensor {
    return idsToTensor(ids, this.vocabSize, this.device as DeviceName);
  }
}
