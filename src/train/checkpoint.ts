/**
 * Training checkpoints: the model in HF's layout (config.json + model.safetensors, loadable by
 * transformers), the optimizer's moments in optimizer.safetensors, and the trainer's state (step,
 * random generator, anything else JSON) in trainer_state.json. The folder is written and swapped in
 * by checkpoint-folder.ts, so a crash never leaves a half-written checkpoint nor none at all; what
 * is read back is checked against the model before anything trains on it.
 */
import { ArgumentError, FormatError } from '../errors.js';
import { JSON_MAX_BYTES, readJsonObject } from '../io/json.js';
import { joinPath, readBytes, readText, writeBytesAtomic } from '../io/platform.js';
import { SafetensorsFile, serializeSafetensors, type TensorToWrite } from '../io/safetensors.js';
import type { TrainableLM } from './lm-model.js';
import { loadParametersFromFolder } from '../models/pretrained.js';
import { tensor } from '../ops/create.js';
import type { Tensor } from '../tensor/tensor.js';
import type { AdamW } from './adamw.js';
import { recoverCheckpointFolder, writeCheckpointFolder } from './checkpoint-folder.js';
import { parseTrainerState, TRAINER_STATE_MAX_BYTES, type TrainerState } from './trainer-state.js';
import { quoteForMessage } from '../quote.js';

export type { TrainerState } from './trainer-state.js';

/**
 * The files a folder of the old layout (without a marker) must hold to count as a complete checkpoint
 * (the weights are model.safetensors or shards with an index, which loading checks).
 */
export const LM_CHECKPOINT_FILES = ['config.json', 'optimizer.safetensors', 'trainer_state.json'] as const;

const MOMENTS = ['exp_avg', 'exp_avg_sq'] as const;

export async function saveCheckpoint(
  dir: string,
  model: TrainableLM,
  opt: AdamW,
  state: TrainerState,
  /** More files for the folder (e.g. tokenizer.json), name → contents. */
  extra: Record<string, string> = {},
): Promise<void> {
  if (!Number.isSafeInteger(state.step) || state.step < 0) throw new ArgumentError(`saveCheckpoint: state.step must be an integer >= 0, got ${state.step}`);
  const st = opt.state();
  // Every parameter gets both moments (zeros where the optimizer has none yet: the update is the
  // same), so that loading can insist on all of them.
  const tensors: Record<string, TensorToWrite> = {};
  for (const [kind, map] of [['exp_avg', st.m], ['exp_avg_sq', st.v]] as const) {
    for (const [name, p] of model.namedParameters()) {
      const t = map.get(name);
      tensors[`${kind}.${name}`] = { dtype: 'F32', shape: [...p.shape], data: t ? ((await t.data()) as Float32Array) : new Float32Array(p.value.size) };
    }
  }
  const optimizer = serializeSafetensors(tensors, { step: String(st.step) });
  const trainerState = `${JSON.stringify(state, null, 2)}\n`;
  await writeCheckpointFolder(dir, state.step, async (folder) => {
    await model.save(folder);
    for (const [name, text] of Object.entries(extra)) await writeBytesAtomic(joinPath(folder, name), text);
    await writeBytesAtomic(joinPath(folder, 'optimizer.safetensors'), optimizer);
    await writeBytesAtomic(joinPath(folder, 'trainer_state.json'), trainerState);
  });
}

export interface LoadCheckpointOptions {
  /** The most steps the resumed run trains: a checkpoint at a later step is refused. */
  maxStep?: number;
}

/**
 * Loads a checkpoint into an existing model and optimizer; returns the trainer state. Everything is
 * checked before it is used: the architecture against the model's, trainer_state.json's fields,
 * and the optimizer's moments against the parameters (every one present, shapes, dtype, finite
 * values) and its step against the trainer's. Errors name the file and the field or tensor.
 */
export async function loadCheckpoint(dir: string, model: TrainableLM, opt: AdamW, o: LoadCheckpointOptions = {}): Promise<TrainerState> {
  await checkSameArchitecture(dir, model);
  const stateFile = joinPath(dir, 'trainer_state.json');
  const state = parseTrainerState(await readText(stateFile, { maxBytes: TRAINER_STATE_MAX_BYTES, what: 'trainer_state.json' }), stateFile, o);
  const moments = await readMoments(joinPath(dir, 'optimizer.safetensors'), model, state.step);
  await loadParametersFromFolder(model, dir, {
    device: model.device as 'cpu' | 'webgpu',
    ignore: model.config.fields.tie_word_embeddings ? ['lm_head.weight'] : [],
  });
  const device = model.device as 'cpu' | 'webgpu';
  const m = new Map<string, Tensor>();
  const v = new Map<string, Tensor>();
  const shapes = new Map(model.namedParameters().map(([n, p]) => [n, [...p.shape]]));
  for (const [name, [avg, avgSq]] of moments) {
    m.set(name, tensor(avg, shapes.get(name)!, { device }));
    v.set(name, tensor(avgSq, shapes.get(name)!, { device }));
  }
  opt.loadState({ step: state.step, m, v });
  return state;
}

/**
 * optimizer.safetensors, checked against the model: `exp_avg.<name>` and `exp_avg_sq.<name>` for
 * every parameter (none for a checkpoint at step 0), nothing else, F32 of the parameter's shape,
 * finite values (and exp_avg_sq >= 0), and a recorded step equal to trainer_state.json's.
 */
async function readMoments(path: string, model: TrainableLM, step: number): Promise<Map<string, [Float32Array, Float32Array]>> {
  const f = SafetensorsFile.parse(await readBytes(path), path);
  const recorded = f.metadata['step'];
  if (recorded !== String(step)) {
    const got = recorded === undefined ? 'missing' : /^\d{1,16}$/.test(recorded) ? recorded : 'not an integer';
    throw new FormatError(path, `metadata "step" is ${got}, but trainer_state.json is at step ${step}: the two files are not of one checkpoint`);
  }
  const params = new Map(model.namedParameters().map(([n, p]) => [n, p.shape] as const));
  const names = new Set(f.names());
  for (const name of names) {
    const dot = name.indexOf('.');
    const kind = name.slice(0, dot);
    if (dot < 0 || !(MOMENTS as readonly string[]).includes(kind) || !params.has(name.slice(dot + 1))) {
      throw new FormatError(path, `tensor ${name}: not a moment of this model's parameters (expected exp_avg.<parameter> or exp_avg_sq.<parameter>)`);
    }
  }
  const out = new Map<string, [Float32Array, Float32Array]>();
  if (step === 0 && names.size === 0) return out;
  for (const [name, shape] of params) {
    const pair: Float32Array[] = [];
    for (const kind of MOMENTS) {
      const key = `${kind}.${name}`;
      if (!names.has(key)) throw new FormatError(path, `tensor ${key} is missing: every parameter needs exp_avg and exp_avg_sq to resume exactly`);
      const e = f.entry(key);
      if (e.dtype !== 'F32') throw new FormatError(path, `tensor ${key}: dtype ${e.dtype}, expected F32`);
      if (e.shape.length !== shape.length || e.shape.some((d, i) => d !== shape[i])) {
        throw new FormatError(path, `tensor ${key}: shape [${e.shape.join(', ')}], expected the parameter's [${shape.join(', ')}]`);
      }
      const data = f.toFloat32(key);
      const bad = data.findIndex((x) => !Number.isFinite(x) || (kind === 'exp_avg_sq' && x < 0));
      if (bad >= 0) throw new FormatError(path, `tensor ${key}: value ${data[bad]} at index ${bad}, expected a finite number${kind === 'exp_avg_sq' ? ' >= 0' : ''}`);
      pair.push(data);
    }
    out.set(name, [pair[0]!, pair[1]!]);
  }
  return out;
}

/**
 * Readies `dir` for a resumed run (see recoverCheckpointFolder: the newest complete version put in
 * place, temporaries removed) and returns the step of the checkpoint found, or null when there is
 * none; a damaged checkpoint is refused by name.
 */
export async function findCheckpointToResume(dir: string): Promise<number | null> {
  return recoverCheckpointFolder(dir, LM_CHECKPOINT_FILES);
}

/** Fields that fix the parameters' shapes, per model type: a checkpoint must agree on each to be resumed. */
const SHAPE_FIELDS: ReadonlyMap<string, readonly string[]> = new Map([
  ['mamba', ['hidden_size', 'intermediate_size', 'num_hidden_layers', 'state_size', 'conv_kernel', 'time_step_rank', 'vocab_size', 'use_bias', 'use_conv_bias', 'tie_word_embeddings']],
  ['jamba', ['hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'num_experts', 'num_experts_per_tok',
    'expert_layer_period', 'expert_layer_offset', 'attn_layer_period', 'attn_layer_offset', 'mamba_d_state', 'mamba_d_conv', 'mamba_expand', 'mamba_dt_rank',
    'mamba_conv_bias', 'mamba_proj_bias', 'vocab_size', 'tie_word_embeddings']],
  ['mamba2', ['hidden_size', 'expand', 'num_heads', 'head_dim', 'n_groups', 'num_hidden_layers', 'state_size', 'conv_kernel', 'vocab_size', 'use_bias', 'use_conv_bias', 'tie_word_embeddings']],
]);

const TYPE_NAMES: ReadonlyMap<string, string> = new Map([['mamba', 'Mamba'], ['jamba', 'Jamba'], ['mamba2', 'Mamba-2']]);

/** A checkpoint of another architecture, or of another shape, is refused by name. */
async function checkSameArchitecture(dir: string, model: TrainableLM): Promise<void> {
  const file = joinPath(dir, 'config.json');
  const cfg = await readJsonObject(file, { maxBytes: JSON_MAX_BYTES.config, what: 'a config.json' });
  const mine = model.config.fields as unknown as Record<string, unknown>;
  const type = mine['model_type'] as string;
  const name = TYPE_NAMES.get(type) ?? type;
  if (cfg['model_type'] !== type) {
    throw new FormatError(file, `model_type ${quoteForMessage(cfg['model_type'])}: not a ${name} checkpoint, so it cannot continue this ${name} training run`);
  }
  for (const k of SHAPE_FIELDS.get(type) ?? []) {
    if (Object.hasOwn(cfg, k) && cfg[k] !== mine[k]) {
      throw new FormatError(file, `${k} is ${quoteForMessage(cfg[k])} in the checkpoint but ${quoteForMessage(mine[k])} in the training config: not the same model`);
    }
  }
}
