/**
 * Exporting a Mamba model to GGUF for llama.cpp (architecture "mamba"), as llama.cpp's
 * convert_hf_to_gguf.py does for HF MambaForCausalLM checkpoints:
 * - tensor names: backbone.embeddings → token_embd, layers.N.norm → blk.N.attn_norm, mixer.in_proj →
 *   ssm_in, conv1d → ssm_conv1d (weight squeezed to [E, K], and bias), x_proj → ssm_x, dt_proj →
 *   ssm_dt (weight and bias), A_log → ssm_a, D → ssm_d, out_proj → ssm_out, norm_f → output_norm,
 *   an untied lm_head → output (a tied head is left out: llama.cpp then reuses token_embd);
 * - ssm_a holds A = −exp(A_log), which is what llama.cpp's scan takes;
 * - with 16-bit weights, only the large matrices (token_embd, ssm_in, ssm_x, ssm_dt, ssm_out,
 *   output) are f16/bf16; norms, the conv filter, biases, A and D stay f32.
 * llama.cpp's Mamba has no in_proj/out_proj biases and needs intermediate_size = 2 · hidden_size,
 * so models outside that are refused with the reason.
 */
import { ArgumentError, UnsupportedError } from '../../errors.js';
import { FILE_TYPE_CODE, type GgufTensorType, type GgufValue } from '../../io/gguf-format.js';
import type { GgufTensorToWrite, GgufToWrite } from '../../io/gguf-write.js';
import type { MambaForCausalLM } from './modeling.js';

export interface MambaGgufOptions {
  /** Type of the large matrices; the rest stays f32. Default 'f32'. */
  type?: GgufTensorType;
  /** The `tokenizer.ggml.*` keys (see io/gguf-tokenizer.ts); llama.cpp needs a tokenizer to load a model. */
  tokenizer: Readonly<Record<string, GgufValue>>;
  /** `general.name`. */
  name?: string;
}

/** llama.cpp reads the context length but a recurrent model has no limit; the converter writes 2^20. */
const CONTEXT_LENGTH = 2 ** 20;

/** GGUF name of each per-layer HF parameter (after `backbone.layers.N.`), and whether it is a large matrix. */
const LAYER_NAMES: Readonly<Record<string, { gguf: string; matrix: boolean }>> = {
  'norm.weight': { gguf: 'attn_norm.weight', matrix: false },
  'mixer.in_proj.weight': { gguf: 'ssm_in.weight', matrix: true },
  'mixer.conv1d.weight': { gguf: 'ssm_conv1d.weight', matrix: false },
  'mixer.conv1d.bias': { gguf: 'ssm_conv1d.bias', matrix: false },
  'mixer.x_proj.weight': { gguf: 'ssm_x.weight', matrix: true },
  'mixer.dt_proj.weight': { gguf: 'ssm_dt.weight', matrix: true },
  'mixer.dt_proj.bias': { gguf: 'ssm_dt.bias', matrix: false },
  'mixer.A_log': { gguf: 'ssm_a', matrix: false },
  'mixer.D': { gguf: 'ssm_d', matrix: false },
  'mixer.out_proj.weight': { gguf: 'ssm_out.weight', matrix: true },
};
const TOP_NAMES: Readonly<Record<string, { gguf: string; matrix: boolean }>> = {
  'backbone.embeddings.weight': { gguf: 'token_embd.weight', matrix: true },
  'backbone.norm_f.weight': { gguf: 'output_norm.weight', matrix: false },
  'lm_head.weight': { gguf: 'output.weight', matrix: true },
};

/** Refuses configurations llama.cpp's Mamba graph cannot run. */
function checkExportable(model: MambaForCausalLM): void {
  const f = model.config.fields;
  const no = (why: string): never => {
    throw new UnsupportedError(`GGUF export: llama.cpp's Mamba ${why}`);
  };
  if (f.intermediate_size !== 2 * f.hidden_size) no(`needs intermediate_size = 2 · hidden_size, this model has ${f.intermediate_size} and ${f.hidden_size}`);
  if (f.use_bias) no('has no in_proj/out_proj biases (this model has use_bias: true)');
  if (!f.selective) no('is selective only (this model has selective: false)');
}

/**
 * The GGUF contents (metadata and tensors) of a Mamba model; pass it to encodeGguf. Reads every
 * parameter once (asynchronously, so models on WebGPU export too).
 */
export async function mambaGguf(model: MambaForCausalLM, o: MambaGgufOptions): Promise<GgufToWrite> {
  checkExportable(model);
  const type = o.type ?? 'f32';
  // hasOwn, not `in`: "constructor" is in every object.
  if (typeof type !== 'string' || !Object.hasOwn(FILE_TYPE_CODE, type)) throw new ArgumentError(`GGUF export: type must be f32, f16 or bf16, got ${JSON.stringify(type)}`);
  const f = model.config.fields;
  const tokens = o.tokenizer['tokenizer.ggml.tokens'];
  if (tokens?.type !== 'array' || tokens.value.length !== f.vocab_size) {
    throw new ArgumentError(`GGUF export: the tokenizer must list exactly vocab_size (${f.vocab_size}) tokens in tokenizer.ggml.tokens, it lists ${tokens?.type === 'array' ? tokens.value.length : 'none'}`);
  }

  const u32 = (value: number): GgufValue => ({ type: 'u32', value });
  const metadata: Record<string, GgufValue> = {
    'general.architecture': { type: 'string', value: 'mamba' },
    ...(o.name !== undefined ? { 'general.name': { type: 'string', value: o.name } as GgufValue } : {}),
    'mamba.context_length': u32(CONTEXT_LENGTH),
    'mamba.embedding_length': u32(f.hidden_size),
    // Unused by Mamba, but llama.cpp reads them: the converter writes 0.
    'mamba.feed_forward_length': u32(0),
    'mamba.attention.head_count': u32(0),
    'mamba.block_count': u32(f.num_hidden_layers),
    'mamba.ssm.conv_kernel': u32(f.conv_kernel),
    'mamba.ssm.inner_size': u32(f.intermediate_size),
    'mamba.ssm.state_size': u32(f.state_size),
    'mamba.ssm.time_step_rank': u32(f.time_step_rank),
    'mamba.attention.layer_norm_rms_epsilon': { type: 'f32', value: f.layer_norm_epsilon },
    'mamba.ssm.dt_b_c_rms': { type: 'bool', value: false },
    'general.file_type': u32(FILE_TYPE_CODE[type]),
    ...o.tokenizer,
  };

  const tensors: GgufTensorToWrite[] = [];
  for (const [name, p] of model.namedParameters()) {
    const layer = /^backbone\.layers\.(\d+)\.(.+)$/.exec(name);
    const entry = layer ? LAYER_NAMES[layer[2]!] : TOP_NAMES[name];
    if (entry === undefined) throw new UnsupportedError(`GGUF export: no llama.cpp tensor for ${name}`);
    const ggufName = layer ? `blk.${layer[1]}.${entry.gguf}` : entry.gguf;
    let data = (await p.value.data()) as Float32Array;
    let shape = [...p.shape];
    if (entry.gguf === 'ssm_a') data = data.map((a) => -Math.exp(a));
    if (entry.gguf === 'ssm_conv1d.weight') shape = [shape[0]!, shape[2]!]; // [E, 1, K] → [E, K]
    tensors.push({ name: ggufName, shape, type: entry.matrix ? type : 'f32', data });
  }
  if (!f.use_conv_bias) {
    // llama.cpp requires a conv bias; a zero one is the same model.
    for (let i = 0; i < f.num_hidden_layers; i++) tensors.push({ name: `blk.${i}.ssm_conv1d.bias`, shape: [f.intermediate_size], type: 'f32', data: new Float32Array(f.intermediate_size) });
  }
  return { metadata, tensors };
}
