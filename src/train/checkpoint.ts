/**
 * Training checkpoints: the model in HF's layout (config.json + model.safetensors, loadable by
 * transformers), the optimizer's moments in optimizer.safetensors, and the trainer's state (step,
 * random generator, anything else JSON) in trainer_state.json. The folder is written beside the
 * target and swapped in at the end, so a crash never leaves a half-written checkpoint.
 */
import { FormatError } from '../errors.js';
import { joinPath, readBytes, readText, replaceDir, writeBytesAtomic } from '../io/platform.js';
import { SafetensorsFile, serializeSafetensors, type TensorToWrite } from '../io/safetensors.js';
import type { TrainableLM } from './lm-model.js';
import { loadParametersFromFolder } from '../models/pretrained.js';
import { tensor } from '../ops/create.js';
import type { Tensor } from '../tensor/tensor.js';
import type { AdamW } from './adamw.js';

export interface TrainerState {
  step: number;
  rngState: number;
  [key: string]: unknown;
}

export async function saveCheckpoint(
  dir: string,
  model: TrainableLM,
  opt: AdamW,
  state: TrainerState,
  /** More files for the folder (e.g. tokenizer.json), name → contents. */
  extra: Record<string, string> = {},
): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  await model.save(tmp);
  for (const [name, text] of Object.entries(extra)) await writeBytesAtomic(joinPath(tmp, name), text);
  const st = opt.state();
  const tensors: Record<string, TensorToWrite> = {};
  for (const [kind, map] of [['exp_avg', st.m], ['exp_avg_sq', st.v]] as const) {
    for (const [name, t] of map) tensors[`${kind}.${name}`] = { dtype: 'F32', shape: [...t.shape], data: (await t.data()) as Float32Array };
  }
  await writeBytesAtomic(joinPath(tmp, 'optimizer.safetensors'), serializeSafetensors(tensors, { step: String(st.step) }));
  await writeBytesAtomic(joinPath(tmp, 'trainer_state.json'), `${JSON.stringify(state, null, 2)}\n`);
  await replaceDir(tmp, dir);
}

/** Loads a checkpoint into an existing model and optimizer; returns the trainer state. */
export async function loadCheckpoint(dir: string, model: TrainableLM, opt: AdamW): Promise<TrainerState> {
  await checkSameArchitecture(dir, model);
  await loadParametersFromFolder(model, dir, {
    device: model.device as 'cpu' | 'webgpu',
    ignore: model.config.fields.tie_word_embeddings ? ['lm_head.weight'] : [],
  });
  const file = joinPath(dir, 'trainer_state.json');
  let state: TrainerState;
  try {
    state = JSON.parse(await readText(file)) as TrainerState;
  } catch (e) {
    throw new FormatError(file, `not a trainer state: ${(e as Error).message}`);
  }
  if (!Number.isInteger(state.step) || typeof state.rngState !== 'number') {
    throw new FormatError(file, 'expected integer "step" and numeric "rngState"');
  }
  const path = joinPath(dir, 'optimizer.safetensors');
  const f = SafetensorsFile.parse(await readBytes(path), path);
  const m = new Map<string, Tensor>();
  const v = new Map<string, Tensor>();
  for (const name of f.names()) {
    const [kind, ...rest] = name.split('.');
    const pname = rest.join('.');
    const t = tensor(f.toFloat32(name), f.entry(name).shape, { device: model.device as 'cpu' | 'webgpu' });
    if (kind === 'exp_avg') m.set(pname, t);
    else if (kind === 'exp_avg_sq') v.set(pname, t);
    else throw new FormatError(path, `unexpected tensor ${name}`);
  }
  opt.loadState({ step: Number(f.metadata['step'] ?? state.step), m, v });
  return state;
}

/** Fields that fix the parameters' shapes, per model type: a checkpoint must agree on each to be resumed. */
const SHAPE_FIELDS: Record<string, readonly string[]> = {
  mamba: ['hidden_size', 'intermediate_size', 'num_hidden_layers', 'state_size', 'conv_kernel', 'time_step_rank', 'vocab_size', 'use_bias', 'use_conv_bias', 'tie_word_embeddings'],
  jamba: ['hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'num_experts', 'num_experts_per_tok',
    'expert_layer_period', 'expert_layer_offset', 'attn_layer_period', 'attn_layer_offset', 'mamba_d_state', 'mamba_d_conv', 'mamba_expand', 'mamba_dt_rank',
    'mamba_conv_bias', 'mamba_proj_bias', 'vocab_size', 'tie_word_embeddings'],
};

const TYPE_NAMES: Record<string, string> = { mamba: 'Mamba', jamba: 'Jamba' };

/** A checkpoint of another architecture, or of another shape, is refused by name. */
async function checkSameArchitecture(dir: string, model: TrainableLM): Promise<void> {
  const file = joinPath(dir, 'config.json');
  let cfg: Record<string, unknown>;
  try {
    cfg = JSON.parse(await readText(file)) as Record<string, unknown>;
  } catch (e) {
    throw new FormatError(file, `cannot read the checkpoint's config: ${(e as Error).message}`);
  }
  const mine = model.config.fields as unknown as Record<string, unknown>;
  const type = mine['model_type'] as string;
  const name = TYPE_NAMES[type] ?? type;
  if (cfg['model_type'] !== type) {
    throw new FormatError(file, `model_type ${JSON.stringify(cfg['model_type'])}: not a ${name} checkpoint, so it cannot continue this ${name} training run`);
  }
  for (const k of SHAPE_FIELDS[type] ?? []) {
    if (k in cfg && cfg[k] !== mine[k]) {
      throw new FormatError(file, `${k} is ${JSON.stringify(cfg[k])} in the checkpoint but ${JSON.stringify(mine[k])} in the training config: not the same model`);
    }
  }
}
