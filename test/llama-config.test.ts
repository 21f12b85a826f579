/**
 * Llama configs as transformers writes them: RoPE settings in version 4's layout (rope_theta,
 * rope_scaling) and version 5's (rope_parameters) read alike; the scalings implemented (linear,
 * llama3) give HF's frequencies; every other RoPE variant, and settings this implementation would
 * ignore, are refused naming the field; HF's defaults; positions as HF generate makes them; and
 * `mamba-ts info` on a Llama 3.1 8B config (parameters, KV cache per token).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { FormatError } from '../src/errors.js';
import { LlamaConfig } from '../src/models/llama/config.js';
import { positionsFromMask } from '../src/models/llama/positions.js';
import { ropeInverseFrequencies } from '../src/models/llama/rope-frequencies.js';
import { referenceInvFreq } from './llama-reference.js';

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');
const tmp = mkdtempSync(join(tmpdir(), 'mamba-ts-llama-config-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** meta-llama/Llama-3.1-8B's config.json, as transformers 4 wrote it (the fields that matter). */
const LLAMA31_8B = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: 128256, hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32,
  num_attention_heads: 32, num_key_value_heads: 8, max_position_embeddings: 131072, rms_norm_eps: 1e-5, hidden_act: 'silu', attention_bias: false,
  attention_dropout: 0.0, mlp_bias: false, pretraining_tp: 1, tie_word_embeddings: false, bos_token_id: 128000, eos_token_id: 128001, torch_dtype: 'bfloat16',
  rope_theta: 500000.0, rope_scaling: { factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
};
const TINY = { model_type: 'llama', vocab_size: 64, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4 };

const refused = (re: RegExp) => (e: unknown) => e instanceof FormatError && re.test(e.message);

describe('LlamaConfig', () => {
  test("Llama 3.1 8B: HF's parameter count, llama3 frequencies as HF computes them", () => {
    const c = LlamaConfig.fromJSON(LLAMA31_8B, 'c.json');
    assert.equal(c.parameterCount(), 8_030_261_248);
    assert.deepEqual(c.unknownFields, []);
    assert.equal(c.fields.head_dim, 128);
    const f = ropeInverseFrequencies(128, c.fields.rope_theta, c.fields.rope_scaling);
    const want = referenceInvFreq(c.fields);
    f.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) <= 1e-6 * want[i]!, `inv_freq[${i}] ${v} vs ${want[i]}`));
    // Kept at high frequencies, divided by 8 at low ones.
    assert.equal(f[0], ropeInverseFrequencies(128, 500000, null)[0]);
    assert.ok(Math.abs(f[63]! * 8 - ropeInverseFrequencies(128, 500000, null)[63]!) < 1e-12);
  });

  test("transformers 5's rope_parameters reads as transformers 4's rope_theta + rope_scaling", () => {
    const v4 = LlamaConfig.fromJSON(LLAMA31_8B, 'c.json');
    const { rope_theta: theta, rope_scaling: scaling, ...rest } = LLAMA31_8B;
    const v5 = LlamaConfig.fromJSON({ ...rest, rope_parameters: { ...scaling, rope_theta: theta } }, 'c.json');
    assert.deepEqual(v5.fields, v4.fields);
    const linear = LlamaConfig.fromJSON({ ...TINY, rope_scaling: { type: 'linear', factor: 2 } }, 'c.json'); // the old "type" key
    assert.deepEqual(linear.fields.rope_scaling, { rope_type: 'linear', factor: 2 });
    assert.equal(linear.fields.rope_theta, 10000);
    const plain = LlamaConfig.fromJSON({ ...TINY, rope_parameters: { rope_type: 'default', rope_theta: 1e6, partial_rotary_factor: 1.0, factor: 1.0 } }, 'c.json');
    assert.equal(plain.fields.rope_scaling, null);
    assert.equal(plain.fields.rope_theta, 1e6);
    // What it writes back holds both layouts.
    const json = linear.toJSON();
    assert.deepEqual(json['rope_parameters'], { rope_type: 'linear', rope_theta: 10000, factor: 2 });
    assert.deepEqual(json['rope_scaling'], { rope_type: 'linear', factor: 2 });
    assert.equal(json['rope_theta'], 10000);
  });

  test("HF's defaults: one KV head per query head, head_dim = hidden / heads, bos 1, eos 2, no pad", () => {
    const f = LlamaConfig.fromJSON(TINY, 'c.json').fields;
    assert.deepEqual([f.num_key_value_heads, f.head_dim, f.bos_token_id, f.eos_token_id, f.pad_token_id, f.rope_theta, f.rope_scaling, f.rms_norm_eps], [4, 8, 1, 2, null, 10000, null, 1e-6]);
    assert.deepEqual([f.attention_bias, f.mlp_bias, f.tie_word_embeddings, f.max_position_embeddings], [false, false, false, 2048]);
    assert.equal(LlamaConfig.fromJSON({ ...TINY, eos_token_id: null }, 'c.json').fields.eos_token_id, null);
  });

  test('RoPE variants not implemented, and settings that would be ignored, are refused naming the field', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ rope_scaling: { rope_type: 'yarn', factor: 4 } }, /field "rope_scaling\.rope_type": RoPE type "yarn" is not implemented here; supported: "default", "linear", "llama3"/],
      [{ rope_scaling: { type: 'dynamic', factor: 2 } }, /field "rope_scaling\.type": RoPE type "dynamic" is not implemented/],
      [{ rope_parameters: { rope_type: 'longrope', rope_theta: 10000 } }, /field "rope_parameters\.rope_type": RoPE type "longrope"/],
      [{ rope_parameters: { rope_type: 'default', rope_theta: 10000, partial_rotary_factor: 0.5 } }, /field "rope_parameters\.partial_rotary_factor": 0\.5 is not implemented here/],
      [{ rope_scaling: { rope_type: 'linear', factor: 2, mrope_section: [1, 2] } }, /field "rope_scaling\.mrope_section" is not a setting of RoPE type "linear"/],
      [{ rope_scaling: { rope_type: 'linear' } }, /missing required field "rope_scaling\.factor"/],
      [{ rope_scaling: { rope_type: 'default', factor: 4 } }, /field "rope_scaling\.factor": 4 is not implemented here \(only 1\.0\)/],
      [{ rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 4, high_freq_factor: 1, original_max_position_embeddings: 8192 } }, /the high one must be larger/],
      [{ rope_scaling: 'linear' }, /field "rope_scaling": expected an object or null, got "linear"/],
      [{ rope_theta: -1 }, /field "rope_theta": expected a number > 1, got -1/],
      [{ head_dim: 7 }, /field "head_dim" \(7\) must be even: RoPE rotates the two halves/],
      [{ hidden_size: 30 }, /"hidden_size" \(30\) is not a multiple of "num_attention_heads" \(4\), and no "head_dim"/],
      [{ num_key_value_heads: 3 }, /"num_attention_heads" \(4\) is not a multiple of "num_key_value_heads" \(3\)/],
      [{ hidden_act: 'gelu' }, /field "hidden_act": expected one of "silu", got "gelu"/],
      [{ model_type: 'mistral' }, /model_type is "mistral", expected "llama"/],
      [{ max_position_embeddings: 2 ** 25 }, /field "max_position_embeddings": 33554432 is more than 16,777,216/],
    ];
    for (const [edit, re] of cases) assert.throws(() => LlamaConfig.fromJSON({ ...TINY, ...edit }, 'c.json'), refused(re), JSON.stringify(edit));
  });

  test('a head_dim of its own (hidden_size need not be heads × head_dim)', () => {
    const c = LlamaConfig.fromJSON({ ...TINY, hidden_size: 30, head_dim: 16 }, 'c.json');
    assert.equal(c.fields.head_dim, 16);
  });
});

test("positions as HF generate makes them: cumsum(mask) − 1 for real tokens, 1 for pads; the last L columns", () => {
  assert.deepEqual(positionsFromMask([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]], 5), [[1, 1, 0, 1, 2], [0, 1, 2, 3, 4]]);
  assert.deepEqual(positionsFromMask([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]], 1), [[3], [5]]);
});

test('mamba-ts info on a Llama 3.1 8B config: parameters, KV cache per token and at the context', () => {
  const file = join(tmp, 'config.json');
  writeFileSync(file, JSON.stringify(LLAMA31_8B));
  const r = spawnSync(process.execPath, [CLI, 'info', '--model', file, '--json', '--context', '131072', '-q'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const d = JSON.parse(r.stdout) as Record<string, number>;
  assert.equal(d['parameters'], 8_030_261_248);
  // 32 layers × K and V × 8 KV heads × 128 × 2 bytes = 128 KiB per token; 16 GiB at 128k tokens.
  assert.equal(d['kvCacheBytesPerToken'], 131072);
  assert.equal(d['kvCacheBytes'], 16 * 2 ** 30);
  const text = spawnSync(process.execPath, [CLI, 'info', '--model', file, '-q'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /LlamaForCausalLM \(model_type "llama"\)/);
  assert.match(text.stdout, /KV cache:\s+128\.0 KiB per token per sequence \(2-byte values\); 32\.00 GiB per sequence at 262,144 tokens/);
  assert.match(text.stdout, /llama3 scaling × 8/);
});
