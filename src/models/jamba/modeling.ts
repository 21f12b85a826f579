/**
 * Jamba language model, as HF `JambaForCausalLM` (jamba.md §2.2–2.5):
 *
 *   h = embed_tokens(ids)
 *   per layer i:  h = h + mixer_i(input_layernorm(h))      mixer: attention or Mamba (config.mixerOf)
 *                 h = h + ffn_i(pre_ff_layernorm(h))        ffn: MoE or dense SwiGLU (config.expertsOf)
 *   logits = lm_head(final_layernorm(h))
 *
 * Parameter names are HF's, so checkpoints load with no mapping. Forwards are async: each MoE
 * layer reads its top-k routing back to size its experts' blocks.
 */
import { ArgumentError, UnsupportedError } from '../../errors.js';
import type { DeviceName } from '../../backend/registry.js';
import { CausalSelfAttention } from '../../nn/attention.js';
import { Embedding, Linear, RMSNorm } from '../../nn/layers.js';
import { MambaMixer } from '../../nn/mamba-mixer.js';
import { JambaMLP, SparseMoE, loadBalancingLoss } from '../../nn/moe.js';
import { Module } from '../../nn/module.js';
import { add, concat, linear, reshape, rmsNormLinear, scale, slice } from '../../ops/index.js';
import type { DevicePosition } from '../../nn/device-position.js';
import type { KvCache } from '../../nn/attention.js';
import { Segments } from '../../nn/segments.js';
import { checkAttentionMask, hasPadding, keyMaskTensor, tokenMaskTensor } from '../../generation/attention-mask.js';
import type { CausalLM, TokenPicker } from '../../generation/causal-lm.js';
import { JambaDecodeStepper } from './decode-stepper.js';
import { fusedMambaMix, prepareFusedMambaMix } from './mamba-step.js';
import { replayBackend } from '../decode-graph.js';
import { generate, type GenerateOptions } from '../../generation/generate.js';
import { JambaCache, type JambaLayerState } from './cache.js';
import type { Tensor } from '../../tensor/tensor.js';
import { tidy } from '../../tensor/memory.js';
import { noGrad } from '../../autograd/tape.js';
import { fromPretrainedModel, saveModule, type ModelLoadOptions, type SaveDtype } from '../pretrained.js';
import { checkOptionKeys, optionKeys } from '../../options.js';
import { checkTokenIds } from '../../generation/token-ids.js';
import { idsToTensor, shiftedCrossEntropy } from '../lm-inputs.js';
import { JAMBA_FLOAT_FIELDS, JambaConfig } from './config.js';
import { legacyRenames } from './legacy-names.js';
import { checkOutputSelection, collectSelection, summarizeLayer, type LayerSelection, type OutputSelection, type SelectionOutput } from '../selection.js';

export class JambaDecoderLayer extends Module {
  readonly input_layernorm: RMSNorm;
  readonly self_attn: CausalSelfAttention | null = null;
  readonly mamba: MambaMixer | null = null;
  readonly pre_ff_layernorm: RMSNorm;
  readonly feed_forward: JambaMLP | SparseMoE;

  constructor(c: JambaConfig, i: number) {
    super();
    const f = c.fields;
    this.input_layernorm = this.child('input_layernorm', new RMSNorm(f.hidden_size, f.rms_norm_eps));
    if (c.mixerOf(i) === 'attention') {
      this.self_attn = this.child(
        'self_attn',
        new CausalSelfAttention({ hiddenSize: f.hidden_size, numHeads: f.num_attention_heads, numKvHeads: f.num_key_value_heads, headDim: c.headDim }),
      );
    } else {
      this.mamba = this.child(
        'mamba',
        new MambaMixer({
          hiddenSize: f.hidden_size,
          intermediateSize: c.mambaInner,
          stateSize: f.mamba_d_state,
          convKernel: f.mamba_d_conv,
          dtRank: f.mamba_dt_rank,
          useBias: f.mamba_proj_bias,
          useConvBias: f.mamba_conv_bias,
          selective: true,
          innerNormEps: f.rms_norm_eps,
        }),
      );
    }
    this.pre_ff_layernorm = this.child('pre_ff_layernorm', new RMSNorm(f.hidden_size, f.rms_norm_eps));
    const n = c.expertsOf(i);
    this.feed_forward = this.child(
      'feed_forward',
      n > 1 ? new SparseMoE(f.hidden_size, f.intermediate_size, n, f.num_experts_per_tok) : new JambaMLP(f.hidden_size, f.intermediate_size),
    );
  }

  /**
   * The mixer half, h + mixer(input_layernorm(h)), synchronous. `st`: undefined without a cache;
   * null at a sequence start with one (then the new decode state is returned). `selection`: a
   * Mamba layer also returns its selection (see models/selection.ts; attention layers have none).
   * `plannedLength`: the positions an attention layer's new KV cache is allocated for, when known
   * (DecodeCache.reserve). Callers wrap this in tidy().
   */
  mix(
    h: Tensor,
    st: JambaLayerState | null | undefined,
    m: LayerMasks = {},
    selection: OutputSelection = false,
    plannedLength = 0,
  ): { out: Tensor; state?: JambaLayerState; selection?: LayerSelection } {
    // One token of a Mamba layer with its state: the fused step where the device has one.
    if (this.mamba && st?.kind === 'mamba' && !m.tokenMask && selection === false) {
      const r = fusedMambaMix(this.input_layernorm, this.mamba, h, st.state, false);
      if (r) return { out: r.out, state: { kind: 'mamba', state: r.state } };
    }
    const x = this.input_layernorm.forward(h);
    if (this.self_attn) {
      if (st === undefined) return { out: add(h, this.self_attn.forward(x, undefined, m.keyMask)) };
      const r = this.self_attn.forward(x, st?.kind === 'attention' ? st.kv : null, m.keyMask, undefined, plannedLength);
      return { out: add(h, r.out), state: { kind: 'attention', kv: r.kv } };
    }
    const mambaState = st === undefined ? undefined : st?.kind === 'mamba' ? st.state : null;
    const r = this.mamba!.forward(x, mambaState, m.tokenMask, { outputSelection: selection !== false });
    return {
      out: add(h, r.out),
      state: r.state ? { kind: 'mamba', state: r.state } : undefined,
      ...(r.selection ? { selection: summarizeLayer(r.selection, selection === true) } : {}),
    };
  }

  /**
   * The mixer half for one token per row at the position `at` holds on the device (a replayable
   * decode step, see models/kv-decode-stepper.ts): attention writes its keys and values into the
   * layer's KvCache at that position; a Mamba layer updates its states in their own buffers, so
   * they stay fixed: through the fused step (mambaBlockStep, in place) where the device has one,
   * else op by op (the SSM state in place, the small conv state copied back). `st` must be this
   * layer's state. Callers wrap this in tidy().
   */
  mixStep(h: Tensor, st: JambaLayerState, at: DevicePosition): Tensor {
    if (this.self_attn) {
      if (st.kind !== 'attention') throw new ArgumentError('JambaDecoderLayer.mixStep: an attention layer needs its KV cache');
      return add(h, this.self_attn.stepAt(this.input_layernorm.forward(h), st.kv, at));
    }
    if (st.kind !== 'mamba') throw new ArgumentError('JambaDecoderLayer.mixStep: a Mamba layer needs its state');
    const fused = fusedMambaMix(this.input_layernorm, this.mamba!, h, st.state, true);
    if (fused) return fused.out;
    return add(h, this.mamba!.step(this.input_layernorm.forward(h), st.state, true).out);
  }

  /**
   * The feed-forward half for a decode step, h1 (B, 1, H) → h1 + ffn(pre_ff_layernorm(h1)), all on
   * the device: an MoE layer routes on the device (SparseMoE.forwardStep). Null where the device
   * cannot route (the CPU): use feedForward. Callers wrap this in tidy().
   */
  feedForwardStep(h1: Tensor): Tensor | null {
    const ffn = this.feed_forward;
    if (!(ffn instanceof SparseMoE)) return add(h1, ffn.forward(this.pre_ff_layernorm.forward(h1)));
    if (!h1.backend.moeStep) return null;
    const [B, , H] = h1.shape as [number, number, number];
    const flat = reshape(h1, [B, H]);
    const out = ffn.forwardStep(this.pre_ff_layernorm.forward(flat), flat);
    return out && reshape(out, [B, 1, H]);
  }

  /**
   * The feed-forward half, h1 + ffn(pre_ff_layernorm(h1)); async because a MoE layer reads its
   * routing back. Its stretches run in `seg`, which holds the results.
   */
  async feedForward(h1: Tensor, seg: Segments): Promise<{ out: Tensor; routerLogits: Tensor | null; expertCounts: number[] | null }> {
    const ffn = this.feed_forward;
    if (!(ffn instanceof SparseMoE)) {
      return seg.run(() => ({ out: add(h1, ffn.forward(this.pre_ff_layernorm.forward(h1))), routerLogits: null, expertCounts: null }));
    }
    const y = seg.run(() => this.pre_ff_layernorm.forward(h1));
    const r = await ffn.forward(y, seg);
    const out = seg.run(() => add(h1, r.out));
    seg.drop(y, r.out);
    return { out, routerLogits: r.routerLogits, expertCounts: r.expertCounts };
  }
}

/** Padding masks for one pass (see models/attention-mask.ts); absent: no padding. */
export interface LayerMasks {
  /** (B, Lk) 0/1 over past and new keys, for attention layers. */
  keyMask?: Tensor;
  /** (B, L, 1) 0/1 over the new tokens, for Mamba layers. */
  tokenMask?: Tensor;
}

export class JambaModel extends Module {
  readonly embed_tokens: Embedding;
  readonly layers: JambaDecoderLayer[];
  readonly final_layernorm: RMSNorm;
  constructor(c: JambaConfig) {
    super();
    const f = c.fields;
    this.embed_tokens = this.child('embed_tokens', new Embedding(f.vocab_size, f.hidden_size));
    this.layers = this.childList('layers', Array.from({ length: f.num_hidden_layers }, (_, i) => new JambaDecoderLayer(c, i)));
    this.final_layernorm = this.child('final_layernorm', new RMSNorm(f.hidden_size, f.rms_norm_eps));
  }
}

export interface JambaForwardOptions {
  /**
   * HF's `hidden_states` for Jamba: the embeddings, the residual stream after layers 0..n-2, then
   * final_layernorm's output (n+1 tensors; the last one times lm_head gives the logits).
   */
  outputHiddenStates?: boolean;
  /** Next-token targets (-100 = ignore): adds `loss` = shifted mean CE + router_aux_loss_coef · auxLoss. */
  labels?: number[][];
  /**
   * HF's attention_mask (B, L): 1 = a real token, 0 = padding (left padding). Attention does not
   * look at padded keys, Mamba layers keep padding out of their states, and the aux loss averages
   * over real tokens only (as HF). Absent: every token is real.
   */
  attentionMask?: number[][];
  /** Also return each MoE layer's router logits (B·L, n), in layer order (see expertFractions). */
  outputRouterLogits?: boolean;
  /**
   * Also return `selection`: per Mamba layer (`selection.layers` gives their indices), the Δ, B, C
   * its scan consumed (B and C after b_/c_layernorm, Δ after dt_layernorm, dt_proj and softplus)
   * and per-token summaries. `'summary'`: the summaries only. With padding, padded positions hold
   * B = C = 0 (mask them out).
   */
  outputSelection?: OutputSelection;
}

/** The keys of JambaForwardOptions (checked against the interface at compile time). */
export const JAMBA_FORWARD_OPTION_KEYS = optionKeys<JambaForwardOptions>({
  outputHiddenStates: true,
  labels: true,
  attentionMask: true,
  outputRouterLogits: true,
  outputSelection: true,
});

export interface JambaOutput {
  logits: Tensor; // (B, L, V)
  hiddenStates?: Tensor[];
  loss?: Tensor;
  /** The load-balancing loss over all MoE layers (scalar); given whenever the model has MoE layers. */
  auxLoss?: Tensor;
  /** Per MoE layer (in layer order), the token-slots routed to each expert (each sums to B·L·k). */
  expertCounts: number[][];
  /** With outputRouterLogits: per MoE layer, the router logits (B·L, n). */
  routerLogits?: Tensor[];
  /** With outputSelection: Δ, B, C of each Mamba layer and their per-token summaries. */
  selection?: SelectionOutput;
}

export class JambaForCausalLM extends Module implements CausalLM<JambaCache> {
  readonly model: JambaModel;
  /** null when tied: the embedding matrix is the output projection. */
  readonly lm_head: Linear | null;

  constructor(readonly config: JambaConfig) {
    super();
    const f = config.fields;
    this.model = this.child('model', new JambaModel(config));
    this.lm_head = f.tie_word_embeddings ? null : this.child('lm_head', new Linear(f.hidden_size, f.vocab_size, false));
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

  createCache(batchSize: number): JambaCache {
    return new JambaCache(batchSize, this.config.fields.num_hidden_layers);
  }

  /**
   * Feeds the next tokens of each sequence (any number at once: a prompt, or one token) through
   * the model on top of `cache`, and returns the logits of the last position (B, V).
   * `attentionMask` (B, L) marks padding among these tokens (left-padded prompts); the cache
   * remembers it for later steps. Async: MoE layers read their routing back.
   */
  async nextLogits(ids: number[][] | Tensor, cache: JambaCache, attentionMask?: number[][]): Promise<Tensor> {
    const rows = Array.isArray(ids) ? ids.length : ids.shape[0]!;
    if (rows !== cache.batchSize) throw new ArgumentError(`nextLogits: ${rows} sequences given, the cache holds ${cache.batchSize}`);
    const L = Array.isArray(ids) ? (ids[0]?.length ?? 0) : ids.shape[1]!;
    if (attentionMask) checkAttentionMask(attentionMask, rows, L);
    const keys = cache.maskAfter(attentionMask ?? null, L); // over past and new keys; null: no padding
    const seg = new Segments();
    try {
      const device = this.device as DeviceName;
      const masks = seg.run(() => this.masks(keys, attentionMask, device));
      let h = seg.run(() => this.model.embed_tokens.forward(Array.isArray(ids) ? this.idsTensor(ids) : ids));
      for (const [i, layer] of this.model.layers.entries()) {
        const m = seg.run(() => layer.mix(h, cache.layers[i] ?? null, masks, false, cache.planned));
        seg.release(m.state);
        cache.update(i, m.state!);
        seg.drop(h);
        // One token per row: route on the device where it can (no read-back per layer).
        const step = L === 1 ? seg.run(() => layer.feedForwardStep(m.out)) : null;
        if (step) {
          seg.drop(m.out);
          h = step;
          continue;
        }
        const f = await layer.feedForward(m.out, seg);
        seg.drop(m.out, f.routerLogits);
        h = f.out;
      }
      const logits = seg.run(() => {
        const [B, , H] = h.shape as [number, number, number];
        const last = reshape(L === 1 ? h : slice(h, 1, L - 1, 1), [B, H]);
        const norm = this.model.final_layernorm;
        return rmsNormLinear(last, norm.weight.value, norm.eps, this.outputWeight()); // (B, V), fused where the device has it
      });
      cache.seqlenOffset += L;
      cache.attentionMask = keys;
      return seg.finish(logits);
    } catch (e) {
      seg.abort();
      throw e;
    }
  }

  /**
   * One token per row through the model at the position `at` holds on the device, device work only
   * (see models/kv-decode-stepper.ts): the logits (B, V), the same numbers as nextLogits for that
   * token. Keys, values and Mamba states go into the cache's existing buffers; the host-side
   * counters (seqlenOffset, KvCache lengths, the attention mask) are the caller's to advance.
   * Needs the device MoE step (prepareDecodeStep).
   */
  stepAt(ids: Tensor, cache: JambaCache, at: DevicePosition): Tensor {
    // The Mamba layers update their states in place as the step goes: whatever could refuse the
    // device step is checked before the first layer runs, so a refusal leaves the cache as it was.
    for (const [i, layer] of this.model.layers.entries()) {
      const ffn = layer.feed_forward;
      const st = ffn instanceof SparseMoE ? ffn.stackedExperts() : undefined;
      if (st === null || (st && st.gate.dtype !== st.up.dtype)) {
        throw new UnsupportedError(`JambaForCausalLM.stepAt: the ${this.device} backend cannot route layer ${i}'s experts on the device`);
      }
      if (!cache.layers[i]) throw new ArgumentError(`JambaForCausalLM.stepAt: layer ${i} has no cached state (feed the prompt first)`);
    }
    // No gradients through the device step (the MoE step has no backward and would decline).
    return noGrad(() => tidy(() => {
      let h = this.model.embed_tokens.forward(ids); // (B, 1, H)
      for (const [i, layer] of this.model.layers.entries()) {
        const h1 = layer.mixStep(h, cache.layers[i]!, at);
        const out = layer.feedForwardStep(h1);
        if (!out) throw new UnsupportedError(`JambaForCausalLM.stepAt: the ${this.device} backend cannot route layer ${i}'s experts on the device`);
        h = out;
      }
      const [B, , H] = h.shape as [number, number, number];
      const norm = this.model.final_layernorm;
      return rmsNormLinear(reshape(h, [B, H]), norm.weight.value, norm.eps, this.outputWeight()); // as nextLogits
    }));
  }

  /**
   * Builds what a device decode step needs once (the MoE layers' stacked experts, the fused Mamba
   * steps' parameter packs), outside any recording; false where the device cannot route on the device.
   */
  prepareDecodeStep(): boolean {
    for (const layer of this.model.layers) {
      const ffn = layer.feed_forward;
      if (ffn instanceof SparseMoE && !ffn.stackedExperts()) return false;
      if (layer.mamba) noGrad(() => prepareFusedMambaMix(layer.input_layernorm, layer.mamba!));
    }
    return true;
  }

  /** The KV caches of the attention layers of `cache`. */
  kvCaches(cache: JambaCache): KvCache[] {
    const kvs: KvCache[] = [];
    for (const [i, layer] of this.model.layers.entries()) {
      if (!layer.self_attn) continue;
      const st = cache.layers[i];
      if (st?.kind !== 'attention') throw new ArgumentError(`JambaForCausalLM: attention layer ${i} has no KV cache yet (feed the prompt first)`);
      kvs.push(st.kv);
    }
    return kvs;
  }

  /** Jamba has no positional encoding. */
  nextPositions(): null {
    return null;
  }

  /**
   * Decode steps replayed from recorded device work (JambaDecodeStepper), where the device records
   * work and routes MoE layers on the device (WebGPU); null elsewhere, or when the cache has not
   * seen the prompt yet. MAMBA_TS_DECODE_GRAPH=0 turns it off, for comparison.
   */
  decodeStepper(cache: JambaCache, pick: TokenPicker): JambaDecodeStepper | null {
    const backend = replayBackend(this.model.embed_tokens.weight.value.backend);
    if (!backend?.moeStep) return null;
    if (this.model.layers.some((l) => l.self_attn && !l.self_attn.canStepAt(cache.batchSize))) return null;
    if (cache.layers.some((s) => s === null) || !this.prepareDecodeStep()) return null;
    return new JambaDecodeStepper(this, cache, backend, pick);
  }

  /** The masks of one pass: a key mask over `keys` and a token mask over the new tokens, when they pad. */
  private masks(keys: number[][] | null, tokens: number[][] | undefined, device: DeviceName): LayerMasks {
    const m: LayerMasks = {};
    if (hasPadding(keys)) m.keyMask = keyMaskTensor(keys, device);
    if (hasPadding(tokens)) m.tokenMask = tokenMaskTensor(tokens, device);
    return m;
  }

  private outputWeight(): Tensor {
    return this.lm_head ? this.lm_head.weight.value : this.model.embed_tokens.weight.value;
  }

  /** Prompt + new tokens per row (greedy or sampled; see generation/generate.ts). */
  async generate(inputIds: number[][], o: GenerateOptions = {}): Promise<number[][]> {
    return generate(this, inputIds, o);
  }

  /** Writes config.json and model.safetensors (HF names, loadable by transformers) to `dir`. */
  async save(dir: string, o: { dtype?: SaveDtype; maxShardBytes?: number } = {}): Promise<void> {
    await saveModule(this, dir, this.config.toJSON(), {
      ...o,
      floatFields: JAMBA_FLOAT_FIELDS,
      skip: this.lm_head ? [] : ['lm_head.weight'],
    });
  }

  /** From a model folder, or a Hub id (`owner/name`) fetched through HuggingFace's cache. */
  static async fromPretrained(idOrDir: string, o: ModelLoadOptions = {}): Promise<JambaForCausalLM> {
    return fromPretrainedModel('JambaForCausalLM', idOrDir, o, (json, source) => JambaConfig.fromJSON(json, source), (c) => new JambaForCausalLM(c), legacyRenames);
  }

  /** number[][] → int32 (B, L), checking shape and vocabulary range. */
  idsTensor(ids: number[][]): Tensor {
    return idsToTensor(ids, this.vocabSize, this.device as DeviceName);
  }

  /**
   * Whole sequences in parallel: logits (B, L, V), and on request hidden states, the loss, router
   * logits. Async: MoE layers read their routing back (once per layer). Runs under the grad mode
   * in force when it is called.
   */
  async forward(inputIds: number[][], o: JambaForwardOptions = {}): Promise<JambaOutput> {
    checkOptionKeys('forward', o, JAMBA_FORWARD_OPTION_KEYS);
    const selecting = checkOutputSelection('forward', o.outputSelection);
    const mambaLayers = this.model.layers.flatMap((l, i) => (l.mamba ? [i] : []));
    if (selecting && mambaLayers.length === 0) {
      throw new ArgumentError('forward: outputSelection: this Jamba has no Mamba layers (attn_layer_period 1), so nothing selects');
    }
    checkTokenIds('inputIds', inputIds, this.vocabSize);
    const f = this.config.fields;
    const B = inputIds.length;
    const L = inputIds[0]?.length ?? 0;
    if (o.attentionMask) checkAttentionMask(o.attentionMask, B, L);
    const device = this.device as DeviceName;
    const seg = new Segments();
    try {
      const masks = seg.run(() => this.masks(o.attentionMask ?? null, o.attentionMask, device));
      let h = seg.run(() => this.model.embed_tokens.forward(this.idsTensor(inputIds))); // (B, L, H)
      const hidden: Tensor[] = [h];
      const routerLogits: Tensor[] = [];
      const expertCounts: number[][] = [];
      const selections: LayerSelection[] = [];
      const n = this.model.layers.length;
      for (const [i, layer] of this.model.layers.entries()) {
        const m = seg.run(() => layer.mix(h, undefined, masks, selecting));
        if (m.selection) selections.push(m.selection);
        if (!o.outputHiddenStates) seg.drop(h);
        const r = await layer.feedForward(m.out, seg);
        seg.drop(m.out);
        h = r.out;
        if (r.routerLogits) routerLogits.push(r.routerLogits);
        if (r.expertCounts) expertCounts.push(r.expertCounts);
        if (i < n - 1) hidden.push(h); // HF records the input of each layer, not the last output
      }
      const out = seg.run(() => {
        const normed = this.model.final_layernorm.forward(h);
        const logits = linear(normed, this.outputWeight()); // (B, L, V)
        const res: JambaOutput = { logits, expertCounts };
        if (o.outputHiddenStates) res.hiddenStates = [...hidden, normed];
        if (o.outputRouterLogits) res.routerLogits = routerLogits;
        if (selecting) res.selection = collectSelection(mambaLayers, selections);
        if (routerLogits.length) {
          const realTokens = o.attentionMask && hasPadding(o.attentionMask) ? o.attentionMask.flat() : null;
          res.auxLoss = loadBalancingLoss(concat(routerLogits, 0), f.num_experts, f.num_experts_per_tok, realTokens);
        }
        if (o.labels) {
          const ce = shiftedCrossEntropy(logits, o.labels, device);
          res.loss = res.auxLoss ? add(ce, scale(res.auxLoss, f.router_aux_loss_coef)) : ce;
        }
        return res;
      });
      return seg.finish(out);
    } catch (e) {
      seg.abort();
      throw e;
    }
  }
}
