/**
 * Model configs as files from elsewhere (issue 14): every size field is a safe integer within a
 * stated bound, and so is the parameter count computed from the fields; token ids are ids of the
 * vocabulary; names read from files (model_type, presets, dtypes) are looked up without reaching
 * Object's own members. (config-parameter-count.test.ts checks the arithmetic against the modules.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { ArgumentError, FormatError } from '../src/errors.js';
import { byteGgufMetadata } from '../src/io/gguf-tokenizer.js';
import { AutoModelForCausalLM } from '../src/models/auto.js';
import { parseDLinearConfig } from '../src/models/dlinear/model.js';
import { JambaConfig } from '../src/models/jamba/config.js';
import { LlamaConfig } from '../src/models/llama/config.js';
import { MambaConfig } from '../src/models/mamba/config.js';
import { mambaGguf } from '../src/models/mamba/gguf.js';
import { initMambaWeights } from '../src/models/mamba/init.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { parseTSM2Config } from '../src/models/mambamixer/tsm2/config.js';
import { Vim2Config } from '../src/models/mambamixer/vim2-config.js';
import { AutoModelForTimeSeriesForecasting } from '../src/timeseries/auto.js';

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');
const tmp = mkdtempSync(join(tmpdir(), 'mamba-ts-config-bounds-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const MAMBA = { model_type: 'mamba', hidden_size: 16, num_hidden_layers: 2, vocab_size: 32 };
const JAMBA = { model_type: 'jamba', hidden_size: 16, intermediate_size: 24, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2, num_experts: 4, vocab_size: 32 };
const LLAMA = { model_type: 'llama', hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 32 };
const TSM2_CONFIG = { model_type: 'tsm2', lookback: 32, horizon: 8, n_vars: 3, d_model: 8, patch_len: 8, patch_stride: 4 };

const formatError = (re: RegExp) => (e: unknown) => e instanceof FormatError && re.test(e.message);

describe('size fields: safe integers within their bounds', () => {
  const cases: [string, (raw: Record<string, unknown>) => unknown, Record<string, unknown>, string][] = [
    ['Mamba', (r) => MambaConfig.fromJSON(r, 'c.json'), MAMBA, 'num_hidden_layers'],
    ['Mamba', (r) => MambaConfig.fromJSON(r, 'c.json'), MAMBA, 'vocab_size'],
    ['Mamba', (r) => MambaConfig.fromJSON(r, 'c.json'), MAMBA, 'state_size'],
    ['Jamba', (r) => JambaConfig.fromJSON(r, 'c.json'), JAMBA, 'num_hidden_layers'],
    ['Jamba', (r) => JambaConfig.fromJSON(r, 'c.json'), JAMBA, 'num_experts'],
    ['Jamba', (r) => JambaConfig.fromJSON(r, 'c.json'), JAMBA, 'intermediate_size'],
    ['Llama', (r) => LlamaConfig.fromJSON(r, 'c.json'), LLAMA, 'num_hidden_layers'],
    ['Llama', (r) => LlamaConfig.fromJSON(r, 'c.json'), LLAMA, 'num_attention_heads'],
    ['Llama', (r) => LlamaConfig.fromJSON(r, 'c.json'), LLAMA, 'head_dim'],
    ['Llama', (r) => LlamaConfig.fromJSON(r, 'c.json'), LLAMA, 'intermediate_size'],
    ['TSM2', (r) => parseTSM2Config(r, 'c.json'), TSM2_CONFIG, 'n_layers'],
    ['TSM2', (r) => parseTSM2Config(r, 'c.json'), TSM2_CONFIG, 'd_model'],
    ['DLinear', (r) => parseDLinearConfig(r, 'c.json'), { model_type: 'dlinear', lookback: 16, horizon: 4, n_vars: 2 }, 'horizon'],
    ['ViM2', (r) => Vim2Config.fromJSON(r, 'c.json'), Vim2Config.preset('mnist').toJSON(), 'num_classes'],
  ];
  for (const [family, parse, base, field] of cases) {
    test(`${family} ${field}: 1e9 over its bound, 1e300 and 1.5 not integers`, () => {
      assert.throws(() => parse({ ...base, [field]: 1e9 }), formatError(new RegExp(`^c\\.json: field "${field}": 1000000000 is more than [\\d,]+, the most accepted`)));
      // 1e300 is an integer to Number.isInteger: a size must be a safe integer.
      assert.throws(() => parse({ ...base, [field]: 1e300 }), formatError(new RegExp(`field "${field}": expected an integer >= \\d, got 1e\\+300`)));
      assert.throws(() => parse({ ...base, [field]: 1.5 }), formatError(new RegExp(`field "${field}": expected an integer >= \\d, got 1\\.5`)));
    });
  }

  test('ViM2 per-stage lists are bounded too', () => {
    const base = Vim2Config.preset('mnist').toJSON();
    assert.throws(() => Vim2Config.fromJSON({ ...base, depths: [2, 1e9] }, 'c.json'), formatError(/field "depths\[1\]": 1000000000 is more than 1,024/));
    assert.throws(() => Vim2Config.fromJSON({ ...base, dims: Array(100).fill(8), depths: Array(100).fill(1), channel_depths: Array(100).fill(1) }, 'c.json'), formatError(/field "dims": .*at most 64/));
  });

  test('in-bound fields whose product is absurd are refused by the parameter total, naming the fields', () => {
    const huge = { ...MAMBA, num_hidden_layers: 1024, hidden_size: 65536, intermediate_size: 1 << 20, expand: undefined };
    assert.throws(() => MambaConfig.fromJSON(huge, 'c.json'), formatError(/^c\.json: the config describes .* parameters \(num_hidden_layers 1024, hidden_size 65536, intermediate_size 1048576.*\), more than the 4,398,046,511,104 this library accepts/));
    const wide = { ...LLAMA, num_hidden_layers: 1024, hidden_size: 65536, intermediate_size: 1 << 20, num_attention_heads: 1024, num_key_value_heads: 1024 };
    assert.throws(() => LlamaConfig.fromJSON(wide, 'c.json'), formatError(/^c\.json: the config describes .* parameters \(num_hidden_layers 1024, hidden_size 65536, intermediate_size 1048576, num_attention_heads 1024, head_dim 64, vocab_size 32\), more than/));
    const image = { ...Vim2Config.preset('mnist').toJSON(), image_size: 16384, patch_size: 1 };
    assert.throws(() => Vim2Config.fromJSON(image, 'c.json'), formatError(/the config describes .* parameters \(image_size 16384, patch_size 1/));
  });

  test('Jamba: expert MLPs over all layers are bounded (each is a module of its own)', () => {
    const many = { ...JAMBA, num_hidden_layers: 1024, num_experts: 1024, expert_layer_period: 1, expert_layer_offset: 0, hidden_size: 4, num_attention_heads: 2, num_key_value_heads: 1, intermediate_size: 4 };
    assert.throws(() => JambaConfig.fromJSON(many, 'c.json'), formatError(/fields "num_experts" \(1024\) × MoE layers \(1024 .*\) make 1048576 expert MLPs, more than the 65,536 accepted/));
  });

  test('fixed buffers built from the config are bounded: DLinear L × L, TSM2 patches', () => {
    assert.throws(() => parseDLinearConfig({ lookback: 65536, horizon: 1, n_vars: 1 }, 'c.json'), formatError(/the moving-average matrix \(lookback × lookback\) would hold 4,294,967,296 values \(16\.00 GiB\)/));
    assert.throws(() => parseTSM2Config({ ...TSM2_CONFIG, lookback: 65536, patch_len: 32768, patch_stride: 1, d_model: 1 }, 'c.json'), formatError(/the patch matrix .* would hold/));
  });

  test('the bounds are far above real models: the defaults of Jamba-v0.1 and ViM2-Base pass', () => {
    assert.equal(JambaConfig.fromJSON({ model_type: 'jamba' }).parameterCount(), 51_570_323_328);
    assert.ok(Vim2Config.preset('base').fields.depths.length === 4);
  });
});

describe('token ids in config.json are ids of the vocabulary', () => {
  for (const [family, parse, base] of [
    ['Mamba', (r: Record<string, unknown>) => MambaConfig.fromJSON(r, 'c.json'), MAMBA],
    ['Jamba', (r: Record<string, unknown>) => JambaConfig.fromJSON(r, 'c.json'), JAMBA],
  ] as const) {
    test(`${family}: eos_token_id 1e9, pad_token_id 1.5, -1 or a string are refused naming the field and vocab_size`, () => {
      const bad = (field: string, value: unknown, got: RegExp) =>
        assert.throws(() => parse({ ...base, [field]: value }), formatError(new RegExp(`^c\\.json: field "${field}": expected a token id of this model, an integer in \\[0, 32\\) \\(vocab_size 32\\).*, got ${got.source}`)));
      bad('eos_token_id', 1e9, /1000000000/);
      bad('eos_token_id', 32, /32/);
      bad('pad_token_id', 1.5, /1\.5/);
      bad('pad_token_id', -1, /-1 \(null means none\)/);
      bad('bos_token_id', '1', /"1"/);
      assert.throws(() => parse({ ...base, eos_token_id: [0, 1e9] }), formatError(/field "eos_token_id\[1\]": expected a token id .* got 1000000000/));
      const ok = parse({ ...base, eos_token_id: [0, 31], pad_token_id: null, bos_token_id: 1 }) as { fields: { eos_token_id: unknown; pad_token_id: unknown } };
      assert.deepEqual([ok.fields.eos_token_id, ok.fields.pad_token_id], [[0, 31], null]);
    });
  }

  test('a model folder whose config.json has eos_token_id 1e9 does not load', async () => {
    const dir = join(tmp, 'eos');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...MAMBA, eos_token_id: 1e9 }));
    await assert.rejects(AutoModelForCausalLM.fromPretrained(dir), formatError(/config\.json: field "eos_token_id": .*\[0, 32\).* got 1000000000/));
  });
});

describe('generate: eosTokenId and padTokenId must be token ids of the model', () => {
  const model = new MambaForCausalLM(MambaConfig.create({ hidden_size: 8, num_hidden_layers: 1, vocab_size: 16 }));
  initMambaWeights(model, 0);
  after(() => model.dispose());
  const rejects = (o: Record<string, unknown>, re: RegExp) => assert.rejects(model.generate([[1, 2], [3, 4]], { maxNewTokens: 2, ...o }), (e: unknown) => e instanceof ArgumentError && re.test(e.message));

  test('padTokenId 1.5, outside the vocabulary, negative or a string', async () => {
    await rejects({ padTokenId: 1.5 }, /^padTokenId 1\.5 is not a token id: expected an integer in \[0, 16\)/);
    await rejects({ padTokenId: 16 }, /^padTokenId 16 is outside the vocabulary \[0, 16\)/);
    await rejects({ padTokenId: -1 }, /^padTokenId -1 is not a token id/);
    await rejects({ padTokenId: '0' }, /^padTokenId: expected a token id, an integer in \[0, 16\) .*got a string "0"/);
  });

  test('eosTokenId 1e9, 1.5, or a list holding a string', async () => {
    await rejects({ eosTokenId: 1e9 }, /^eosTokenId 1000000000 is outside the vocabulary \[0, 16\)/);
    await rejects({ eosTokenId: 1.5 }, /^eosTokenId 1\.5 is not a token id/);
    await rejects({ eosTokenId: [2, 'x'] }, /^eosTokenId\[1\]: expected a token id/);
  });

  test('valid ids still generate', async () => {
    const out = await model.generate([[1, 2], [3, 4]], { maxNewTokens: 2, padTokenId: 15, eosTokenId: null });
    assert.equal(out.length, 2);
    assert.ok(out.every((r) => r.every((id) => Number.isInteger(id) && id >= 0 && id < 16)));
  });
});

describe('names from files are looked up without reaching Object.prototype', () => {
  const NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty'];
  const folderWithType = (type: string) => {
    const dir = join(tmp, `type-${type}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...MAMBA, model_type: type }));
    return dir;
  };

  for (const type of NAMES) {
    test(`model_type "${type}" is an unknown model_type, listing the known ones`, async () => {
      const dir = folderWithType(type);
      await assert.rejects(AutoModelForCausalLM.fromPretrained(dir), formatError(new RegExp(`config\\.json: unknown model_type "${type}"; supported: mamba, jamba, llama, mamba2$`)));
      await assert.rejects(AutoModelForTimeSeriesForecasting.fromPretrained(dir), formatError(new RegExp(`model_type "${type}" is not a forecasting model \\(expected one of tsm2, dlinear\\)`)));
      const r = spawnSync(process.execPath, [CLI, 'info', '-q', '--model', join(dir, 'config.json')], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`config\\.json: unknown model_type "${type}"; known: mamba, jamba, llama, vim2, tsm2, dlinear, mamba2\\n$`));
    });
  }

  test('a "__proto__" key in config.json is a field of its own, not the prototype', async () => {
    const dir = join(tmp, 'proto-key');
    mkdirSync(dir, { recursive: true });
    // JSON.parse makes "__proto__" an own property: model_type inside it must not count.
    writeFileSync(join(dir, 'config.json'), `{"__proto__": {"model_type": "mamba"}, "hidden_size": 16, "num_hidden_layers": 2, "vocab_size": 32}`);
    await assert.rejects(AutoModelForCausalLM.fromPretrained(dir), formatError(/unknown model_type undefined; supported: mamba, jamba, llama, mamba2/));
  });

  test('ViM2 presets, the save dtype and the GGUF type are checked by name', async () => {
    assert.throws(() => Vim2Config.preset('constructor'), (e: unknown) => e instanceof ArgumentError && /unknown preset "constructor"; known: tiny, small, base, mnist/.test(e.message));
    const model = new MambaForCausalLM(MambaConfig.create({ hidden_size: 8, num_hidden_layers: 1, vocab_size: 256, use_bias: false }));
    initMambaWeights(model, 0);
    try {
      for (const dtype of ['fp8', 'constructor']) {
        await assert.rejects(model.save(join(tmp, 'saved'), { dtype: dtype as 'f32' }), (e: unknown) => e instanceof ArgumentError && new RegExp(`save: dtype must be one of f32, bf16, f16, got "${dtype}"`).test(e.message));
      }
      await assert.rejects(mambaGguf(model, { type: 'constructor' as 'f32', tokenizer: byteGgufMetadata(256) }), (e: unknown) => e instanceof ArgumentError && /type must be f32, f16 or bf16, got "constructor"/.test(e.message));
    } finally {
      model.dispose();
    }
  });
});
