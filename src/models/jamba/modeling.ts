/**
 * Jamba language model, as HF `JambaForCausalLM` (jamba.md §2.2–2.5):
 *
 *   h = embed_tokens(ids)
 *   per layer i:  h = h + mixer_i(input_layernorm(h))      mixer: attention or Mamba (config.mixerOf)
 *                 h = h + ffn_i(pre_ff_layernorm(h))        ffn: MoE or dense SwiGLU (config.expertsOf)
 *   logits = lm_head(final_layernorm(h))
 *
 * Parameter names are HF's, so checkpoints load with no mapping. Whole-sequence forward only so
 * far (no cache / generation yet).
 */
import { ArgumentError } from '../../errors.js';
import { initWebGPU, type DeviceName } from '../../backend/registry.js';
import { readConfig } from '../../io/hf-folder.js';
import { CausalSelfAttention } from '../../nn/attention.js';
import { Embedding, Linear, RMSNorm } from '../../nn/layers.js';
import { MambaMixer } from '../../nn/mamba-mixer.js';
import { JambaMLP, SparseMoE, loadBalancingLoss } from '../../nn/moe.js';
import { Module } from '../../nn/module.js';
import { add, concat, linear, reshape, scale, slice } from '../../ops/index.js';
import { keep, tidy } from '../../tensor/memory.js';
import type { CausalLM } from '../../generation/causal-lm.js';
import { generate, type GenerateOptions } from '../../generation/generate.js';
import { JambaCache, type JambaLayerState } from './cache.js';
import type { Tensor } from '../../tensor/tensor.js';
import { loadParametersFromFolder } from '../pretrained.js';
import { idsToTensor, shiftedCrossEntropy } from '../lm-inputs.js';
import { JambaConfig } from './config.js';

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

  /** h (B, L, H) → the residual stream after the layer, and the router logits of a MoE layer. */
  forward(h: Tensor): { out: Tensor; routerLogits: Tensor | null } {
    const x = this.input_layernorm.forward(h);
    const mixed = this.self_attn ? this.self_attn.forward(x) : this.mamba!.forward(x).out;
    return this.feedForward(add(h, mixed));
  }

  /** The same, continuing from (and returning) the layer's decode state; null at a sequence start. */
  forwardCached(h: Tensor, st: JambaLayerState | null): { out: Tensor; state: JambaLayerState } {
    const x = this.input_layernorm.forward(h);
    let mixed: Tensor;
    let state: JambaLayerState;
    if (this.self_attn) {
      const r = this.self_attn.forward(x, st?.kind === 'attention' ? st.kv : null);
      mixed = r.out;
      state = { kind: 'attention', kv: r.kv }; // updated in place; its buffers are outside tidy
    } else {
      const r = this.mamba!.forward(x, st?.kind === 'mamba' ? st.state : null);
      mixed = r.out;
      state = { kind: 'mamba', state: { conv: keep(r.state!.conv), ssm: keep(r.state!.ssm) } };
    }
    return { out: this.feedForward(add(h, mixed)).out, state };
  }

  private feedForward(h1: Tensor): { out: Tensor; routerLogits: Tensor | null } {
    const y = this.pre_ff_layernorm.forward(h1);
    if (this.feed_forward instanceof SparseMoE) {
      const r = this.feed_forward.forward(y);
      return { out: add(h1, r.out), routerLogits: r.routerLogits };
    }
    return { out: add(h1, this.feed_forward.forward(y)), routerLogits: null };
  }
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
}

export interface JambaOutput {
  logits: Tensor; // (B, L, V)
  hiddenStates?: Tensor[];
  loss?: Tensor;
  /** The load-balancing loss over all MoE layers (scalar); given whenever the model has MoE layers. */
  auxLoss?: Tensor;
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

  createCache(batchSize: number): JambaCache {
    return new JambaCache(batchSize, this.config.fields.num_hidden_layers);
  }

  /**
   * Feeds the next tokens of each sequence (any number at once: a prompt, or one token) through
   * the model on top of `cache`, and returns the logits of the last position (B, V).
   */
  nextLogits(ids: number[][] | Tensor, cache: JambaCache): Tensor {
    const rows = Array.isArray(ids) ? ids.length : ids.shape[0]!;
    if (rows !== cache.batchSize) throw new ArgumentError(`nextLogits: ${rows} sequences given, the cache holds ${cache.batchSize}`);
    const L = Array.isArray(ids) ? (ids[0]?.length ?? 0) : ids.shape[1]!;
    const logits = tidy(() => {
      let h = this.model.embed_tokens.forward(Array.isArray(ids) ? this.idsTensor(ids) : ids);
      this.model.layers.forEach((layer, i) => {
        const r = layer.forwardCached(h, cache.layers[i] ?? null);
        cache.update(i, r.state);
        h = r.out;
      });
      const [B, , H] = h.shape as [number, number, number];
      const last = reshape(slice(h, 1, L - 1, 1), [B, H]);
      const w = this.lm_head ? this.lm_head.weight.value : this.model.embed_tokens.weight.value;
      return linear(this.model.final_layernorm.forward(last), w);
    });
    cache.seqlenOffset += L;
    return logits;
  }

  /** Prompt + new tokens per row (greedy or sampled; see generation/generate.ts). */
  async generate(inputIds: number[][], o: GenerateOptions = {}): Promise<number[][]> {
    return generate(this, inputIds, o);
  }

  static async fromPretrained(dir: string, o: { device?: DeviceName } = {}): Promise<JambaForCausalLM> {
    const config = JambaConfig.fromJSON(await readConfig(dir), `${dir}/config.json`);
    if (o.device === 'webgpu') await initWebGPU();
    const model = new JambaForCausalLM(config);
    try {
      await loadParametersFromFolder(model, dir, {
        device: o.device,
        ignore: config.fields.tie_word_embeddings ? ['lm_head.weight'] : [],
      });
    } catch (e) {
      model.dispose();
      throw e;
    }
    return model;
  }

  /** number[][] → int32 (B, L), checking shape and vocabulary range. */
  idsTensor(ids: number[][]): Tensor {
    return idsToTensor(ids, this.vocabSize, this.device as DeviceName);
  }

  async forward(inputIds: number[][], o: JambaForwardOptions = {}): Promise<JambaOutput> {
    return this.forwardSync(inputIds, o);
  }

  forwardSync(inputIds: number[][], o: JambaForwardOptions = {}): JambaOutput {
    return tidy(() => {
      const f = this.config.fields;
      let h = this.model.embed_tokens.forward(this.idsTensor(inputIds)); // (B, L, H)
      const hidden: Tensor[] = [h];
      const routerLogits: Tensor[] = [];
      const n = this.model.layers.length;
      this.model.layers.forEach((layer, i) => {
        const r = layer.forward(h);
        h = r.out;
        if (r.routerLogits) routerLogits.push(r.routerLogits);
        if (i < n - 1) hidden.push(h); // HF records the input of each layer, not the last output
      });
      const normed = this.model.final_layernorm.forward(h);
      hidden.push(normed);
      const w = this.lm_head ? this.lm_head.weight.value : this.model.embed_tokens.weight.value;
      const logits = linear(normed, w); // (B, L, V)
      const out: JambaOutput = { logits };
      if (o.outputHiddenStates) out.hiddenStates = hidden;
      if (routerLogits.length) out.auxLoss = loadBalancingLoss(concat(routerLogits, 0), f.num_experts, f.num_experts_per_tok);
      if (o.labels) {
        const ce = shiftedCrossEntropy(logits, o.labels, this.device as DeviceName);
        out.loss = out.auxLoss ? add(ce, scale(out.auxLoss, f.router_aux_loss_coef)) : ce;
      }
      return out;
    });
  }
}
