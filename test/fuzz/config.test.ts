/**
 * Fuzzing config.json (issue 14): hostile values in the fields of real Mamba, Jamba and TSM2 model
 * folders (sizes of 1e9, negatives, fractions, strings, `__proto__`/`constructor` as model_type or
 * key), and unreadable config files. Every case must end in an Error naming the file, or in a model
 * whose parameters are the folder's unchanged weights — and then every field that shapes the model
 * must have kept its meaning, token ids must lie in the vocabulary, and a forecaster's scaler must
 * be usable numbers.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FuzzRunner } from './runner.js';
import { assertLoaded, assertThrew, fuzzProperty, sameBytes, settled, type Draw } from './property.js';
import { CANARY, applyEdits, corruptText, describeEdit, hostileValueArb, hugeValueArb, lastPerPath, textCorruptionArb, type JsonEdit, type JsonPath } from './gen-json.js';
import { JAMBA_DIR, MAMBA_DIR, TSM2_DIR, readConfigOf, tensorsOf } from './bases.js';
import type { FileSpec, Loaded, Target } from './protocol.js';

interface Base {
  name: string;
  dir: string;
  target: Target;
  config: Record<string, unknown>;
  tensors: Map<string, Float32Array>;
  /** Fields that decide the parameters' shapes: changing one must make the unchanged weights fail to load. */
  shapeFields: string[];
  /** The subset most likely to be used to allocate: fed huge values more often. */
  sizeFields: string[];
  /** Paths into nested fields worth editing (the forecaster's scaler and columns). */
  nestedPaths: (string | number)[][];
}

const MODEL_TYPES = ['"__proto__"', '"constructor"', '"toString"', '"hasOwnProperty"', '"valueOf"', '"Mamba"', '"mamba "', '""', '"tsm2"', '"vim2"', '"dlinear"', '"jamba"', '"mamba"', '"mamba2"', 'null', '1', '["mamba"]'];
const ODD_KEYS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'model_type'];

let runner: FuzzRunner;
const bases: Base[] = [];

before(async () => {
  runner = await FuzzRunner.create();
  const mambaShape = ['vocab_size', 'hidden_size', 'state_size', 'num_hidden_layers', 'expand', 'intermediate_size', 'conv_kernel', 'time_step_rank', 'use_bias', 'use_conv_bias', 'tie_word_embeddings'];
  bases.push({
    name: 'mamba',
    dir: MAMBA_DIR,
    target: { kind: 'causal-lm', via: 'path' },
    config: await readConfigOf(MAMBA_DIR),
    tensors: await tensorsOf(MAMBA_DIR),
    shapeFields: mambaShape,
    sizeFields: ['vocab_size', 'hidden_size', 'state_size', 'num_hidden_layers', 'intermediate_size', 'conv_kernel', 'time_step_rank', 'expand'],
    nestedPaths: [],
  });
  bases.push({
    name: 'jamba',
    dir: JAMBA_DIR,
    target: { kind: 'causal-lm', via: 'path' },
    config: await readConfigOf(JAMBA_DIR),
    tensors: await tensorsOf(JAMBA_DIR),
    shapeFields: ['vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'num_experts', 'attn_layer_offset', 'attn_layer_period',
      'expert_layer_offset', 'expert_layer_period', 'mamba_d_state', 'mamba_d_conv', 'mamba_dt_rank', 'mamba_expand', 'mamba_conv_bias', 'mamba_proj_bias', 'tie_word_embeddings'],
    sizeFields: ['num_hidden_layers', 'num_experts', 'num_experts_per_tok', 'hidden_size', 'intermediate_size', 'vocab_size', 'num_attention_heads', 'mamba_d_state', 'mamba_expand', 'max_position_embeddings'],
    nestedPaths: [],
  });
  bases.push({
    name: 'tsm2',
    dir: TSM2_DIR,
    target: { kind: 'forecaster' },
    config: await readConfigOf(TSM2_DIR),
    tensors: await tensorsOf(TSM2_DIR),
    shapeFields: ['lookback', 'horizon', 'n_vars', 'patch_len', 'patch_stride', 'd_model', 'n_layers', 'd_state', 'd_conv', 'expand'],
    sizeFields: ['n_layers', 'd_model', 'lookback', 'horizon', 'n_vars', 'd_state', 'expand', 'patch_len'],
    nestedPaths: [['scaler', 'std', 0], ['scaler', 'std', 6], ['scaler', 'mean', 3], ['scaler', 'mean'], ['scaler', 'std'], ['scaler'], ['columns', 2], ['columns']],
  });
});
after(async () => {
  await runner.close();
});

interface ConfigExpect {
  base: Base;
  edits: JsonEdit[];
  /** Set when the file was made unreadable as JSON. */
  corrupt: boolean;
}

function editArb(base: Base): fc.Arbitrary<JsonEdit> {
  const fields = Object.keys(base.config);
  return fc.oneof(
    { weight: 3, arbitrary: fc.record({ path: fc.constantFrom(...base.sizeFields).map((f) => [f]), valueText: hugeValueArb }) },
    { weight: 4, arbitrary: fc.record({ path: fc.constantFrom(...fields, ...ODD_KEYS).map((f) => [f]), valueText: hostileValueArb }) },
    { weight: 2, arbitrary: fc.record({ path: fc.constant<JsonPath>(['model_type']), valueText: fc.constantFrom(...MODEL_TYPES) }) },
    { weight: 1, arbitrary: fc.record({ path: fc.constantFrom(...fields).map((f) => [f]), remove: fc.constant(true as const) }) },
    ...(base.nestedPaths.length
      ? [{ weight: 3, arbitrary: fc.record({ path: fc.constantFrom(...base.nestedPaths), valueText: fc.oneof(hostileValueArb, fc.constantFrom('0', '-1', '"x"', 'null', '1e39', '[1,2]')) }) }]
      : []),
  );
}

function caseArb(base: Base): fc.Arbitrary<Draw<ConfigExpect>> {
  return fc
    .tuple(fc.array(editArb(base), { minLength: 1, maxLength: 3 }), fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: textCorruptionArb }))
    .map(([drawn, corruption]) => {
      const edits = lastPerPath(drawn);
      const text = applyEdits(base.config, edits);
      const corrupted = corruption && corruptText(text, corruption);
      const file: FileSpec = corrupted
        ? typeof corrupted.text === 'string'
          ? { path: 'model/config.json', text: corrupted.text }
          : { path: 'model/config.json', bytes: corrupted.text }
        : { path: 'model/config.json', text };
      const label = corrupted ? `${base.name} config.json: ${corrupted.label}` : `${base.name} config.json: ${edits.map(describeEdit).join('; ')}`;
      return { fuzzCase: { label, base: base.dir, files: [file], target: base.target }, expect: { base, edits: corrupted ? [] : edits, corrupt: corrupted !== undefined } };
    });
}

/** Whether JSON text `valueText` means what `original` means (64.0 is 64). */
function sameValue(original: unknown, valueText: string): boolean {
  return JSON.stringify(JSON.parse(valueText)) === JSON.stringify(original);
}

function isTokenId(v: unknown, vocab: number): boolean {
  return v === null || v === undefined || (Number.isInteger(v) && (v as number) >= 0 && (v as number) < vocab);
}

function checkLoadedConfig(e: ConfigExpect, value: Loaded): void {
  const { base } = e;
  const params = value.kind === 'model' || value.kind === 'forecaster' ? value.params : [];
  assert.equal(params.length, base.tensors.size, 'parameter count');
  for (const p of params) {
    const want = base.tensors.get(p.name);
    assert.ok(want !== undefined && sameBytes(p.data, want), `${p.name} is not the folder's tensor`);
  }
  for (const edit of e.edits) {
    if ('remove' in edit || edit.path.length !== 1) continue;
    const field = edit.path[0] as string;
    const original = base.config[field];
    if (field === 'model_type' && !sameValue(original, edit.valueText)) assert.fail(`loaded with model_type ${edit.valueText} as a ${JSON.stringify(original)} model`);
    if (!base.shapeFields.includes(field) || sameValue(original, edit.valueText)) continue;
    // time_step_rank "auto" is ceil(hidden_size / 16): the same 4 as the fixture's.
    if (field === 'time_step_rank' && ['"auto"', 'null'].includes(edit.valueText)) continue;
    // null means the field's default (as an absent field does), which may be the original value.
    if (edit.valueText === 'null' && (value.kind === 'model' || value.kind === 'forecaster') && JSON.stringify(value.config?.[field]) === JSON.stringify(original)) continue;
    assert.fail(`accepted ${field} = ${edit.valueText} (was ${JSON.stringify(original)}), which changes the model's shapes, yet loaded the unchanged weights`);
  }
  if (value.kind === 'model') {
    const cfg = value.config ?? {};
    const vocab = cfg['vocab_size'] as number;
    for (const key of ['bos_token_id', 'pad_token_id', 'eos_token_id']) {
      const v = cfg[key];
      const ok = Array.isArray(v) ? v.length > 0 && v.every((x) => isTokenId(x, vocab)) : isTokenId(v, vocab);
      assert.ok(ok, `accepted ${key} = ${JSON.stringify(v)}, which is not a token id in [0, ${vocab})`);
    }
  }
  if (value.kind === 'forecaster') {
    const M = base.config['n_vars'] as number;
    const scaler = value.scaler as { mean?: unknown; std?: unknown } | undefined;
    const numbers = (v: unknown, positive: boolean): boolean =>
      Array.isArray(v) && v.length === M && v.every((x) => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0));
    assert.ok(numbers(scaler?.mean, false), `accepted scaler.mean = ${JSON.stringify(scaler?.mean)}: expected ${M} finite numbers`);
    assert.ok(numbers(scaler?.std, true), `accepted scaler.std = ${JSON.stringify(scaler?.std)}: expected ${M} finite numbers > 0`);
    const columns = value.columns;
    assert.ok(Array.isArray(columns) && columns.length === M && columns.every((c) => typeof c === 'string'), `accepted columns = ${JSON.stringify(columns)}`);
  }
}

function check({ expect: e }: Draw<ConfigExpect>, outcome: Parameters<typeof settled>[0]): void {
  const o = settled(outcome);
  if (o.kind === 'threw') assert.ok(!o.message.includes(CANARY), `the error quotes the file's contents: ${o.message.slice(0, 300)}`);
  if (e.corrupt) return assertThrew(o, 'config.json is not a JSON object');
  if (o.kind === 'threw') return;
  assertLoaded(o, '');
  checkLoadedConfig(e, o.value);
}

describe('fuzz: config.json', () => {
  for (const [name, runs] of [['mamba', 70], ['jamba', 50], ['tsm2', 60]] as const) {
    test(`${name} folder with a hostile config.json`, async (t) => {
      const base = bases.find((b) => b.name === name)!;
      await fuzzProperty(`config ${name}`, runner, caseArb(base), check, { runs, log: (l) => t.diagnostic(l) });
    });
  }
});
