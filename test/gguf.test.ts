/**
 * GGUF export: the writer's bytes parse back (header, typed metadata, tensor table in ggml's
 * innermost-first order, alignment, f16/bf16 rounding), bad input is refused by name, the Mamba
 * exporter writes llama.cpp's names, shapes and types, and llama.cpp itself (node-llama-cpp, a dev
 * dependency) runs the exported mamba-tiny fixture to HF's logits and greedy tokens.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { ControlledEvaluateInputItem, Llama, Token } from 'node-llama-cpp';
import { ArgumentError, FormatError, UnsupportedError } from '../src/errors.js';
import { GGUF_DEFAULT_ALIGNMENT, type GgufValue } from '../src/io/gguf-format.js';
import { ggufTensorValues, parseGguf } from '../src/io/gguf-read.js';
import { byteGgufMetadata, byteLevelAlphabet, byteLevelBpeGgufMetadata } from '../src/io/gguf-tokenizer.js';
import { encodeGguf, type GgufToWrite } from '../src/io/gguf-write.js';
import { SafetensorsFile } from '../src/io/safetensors.js';
import { MambaConfig } from '../src/models/mamba/config.js';
import { mambaGguf } from '../src/models/mamba/gguf.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { initMambaWeights } from '../src/models/mamba/init.js';
import { missingExternal } from './external.js';
import { SHARED, assertClose, fixture } from './helpers.js';

/** node-llama-cpp's prebuilt CPU binary, or the reason it cannot be had (then the test skips, or fails under CI). */
async function loadLlamaCpp(): Promise<{ llama?: Llama; missing?: string }> {
  try {
    const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
    return { llama: await getLlama({ gpu: false, build: 'never', maxThreads: 0, logLevel: LlamaLogLevel.error }) };
  } catch (e) {
    return { missing: missingExternal('llama.cpp parity', `node-llama-cpp cannot load its prebuilt CPU binary: ${(e as Error).message}`) };
  }
}
const llamaCpp = await loadLlamaCpp();

const tmp = mkdtempSync(join(tmpdir(), 'mamba-ts-gguf-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
const encode = (f: GgufToWrite) => concat(encodeGguf(f));

const EVERY_TYPE: Record<string, GgufValue> = {
  'general.architecture': { type: 'string', value: 'mamba' },
  'test.u8': { type: 'u8', value: 255 },
  'test.i8': { type: 'i8', value: -128 },
  'test.u16': { type: 'u16', value: 65535 },
  'test.i16': { type: 'i16', value: -32768 },
  'test.u32': { type: 'u32', value: 4294967295 },
  'test.i32': { type: 'i32', value: -2147483648 },
  'test.u64': { type: 'u64', value: 18446744073709551615n },
  'test.i64': { type: 'i64', value: -5 },
  'test.f32': { type: 'f32', value: 0.5 },
  'test.f64': { type: 'f64', value: 0.1 },
  'test.bool': { type: 'bool', value: true },
  'test.string': { type: 'string', value: 'Ġ héllo ✓' },
  'test.strings': { type: 'array', itemType: 'string', value: ['a b', '', 'Ċ'] },
  'test.i32s': { type: 'array', itemType: 'i32', value: [1, -2, 3] },
  'test.empty': { type: 'array', itemType: 'string', value: [] },
};

describe('GGUF writer and reader', () => {
  test('metadata of every scalar type and arrays read back typed and in order', () => {
    const g = parseGguf(encode({ metadata: EVERY_TYPE, tensors: [] }));
    assert.equal(g.version, 3);
    assert.equal(g.alignment, GGUF_DEFAULT_ALIGNMENT);
    assert.deepEqual([...g.metadata.keys()], Object.keys(EVERY_TYPE));
    for (const [k, v] of Object.entries(EVERY_TYPE)) assert.deepEqual(g.metadata.get(k), v, k);
  });

  test('the header is GGUF v3 and the tensor table lists dimensions innermost first, as ggml does', () => {
    const bytes = encode({ metadata: {}, tensors: [{ name: 'w', shape: [2, 3], type: 'f32', data: new Float32Array(6) }] });
    const v = new DataView(bytes.buffer);
    assert.equal(new TextDecoder().decode(bytes.subarray(0, 4)), 'GGUF');
    assert.equal(v.getUint32(4, true), 3);
    assert.equal(v.getBigUint64(8, true), 1n); // tensors
    assert.equal(v.getBigUint64(16, true), 0n); // metadata
    // name: u64 length 1, "w"; then n_dims, ne0, ne1, type, offset
    assert.equal(v.getBigUint64(24, true), 1n);
    assert.equal(v.getUint32(33, true), 2);
    assert.deepEqual([v.getBigUint64(37, true), v.getBigUint64(45, true)], [3n, 2n]);
    assert.equal(v.getUint32(53, true), 0); // GGML_TYPE_F32
    assert.equal(v.getBigUint64(57, true), 0n);
    assert.deepEqual(parseGguf(bytes).tensors[0]!.shape, [2, 3]);
  });

  for (const alignment of [32, 64]) {
    test(`tensors start at multiples of ${alignment} from an aligned data section, and read back`, () => {
      const a = Float32Array.from({ length: 5 }, (_, i) => i - 2.5);
      const b = Float32Array.from({ length: 7 }, (_, i) => i / 8);
      const bytes = encode({
        metadata: { 'general.architecture': { type: 'string', value: 'x' } },
        tensors: [
          { name: 'a', shape: [5], type: 'f32', data: a },
          { name: 'b.f16', shape: [7, 1], type: 'f16', data: b },
          { name: 'c', shape: [1, 7], type: 'bf16', data: b },
        ],
        alignment,
      });
      const g = parseGguf(bytes);
      assert.equal(g.alignment, alignment);
      assert.equal(g.metadata.has('general.alignment'), alignment !== 32);
      assert.equal(g.dataOffset % alignment, 0);
      for (const t of g.tensors) assert.equal((t.offset - g.dataOffset) % alignment, 0, t.name);
      assert.deepEqual(
        g.tensors.map((t) => [t.name, t.type, t.shape]),
        [['a', 'f32', [5]], ['b.f16', 'f16', [7, 1]], ['c', 'bf16', [1, 7]]],
      );
      assert.equal(bytes.length % alignment, 0);
      assert.deepEqual(ggufTensorValues(bytes, g.tensors[0]!), a);
      assert.deepEqual(ggufTensorValues(bytes, g.tensors[1]!), b); // eighths are exact in f16 and bf16
      assert.deepEqual(ggufTensorValues(bytes, g.tensors[2]!), b);
    });
  }

  test('f16 and bf16 round to nearest even; f16 overflows to inf and keeps subnormals', () => {
    const values = Float32Array.from([1, -2, 0.1, 65504, 65520, 1e-7, 3e-8, 1 + 2 ** -11, 1 + 3 * 2 ** -11]);
    const bytes = encode({
      metadata: {},
      tensors: [
        { name: 'h', shape: [values.length], type: 'f16', data: values },
        { name: 'b', shape: [2], type: 'bf16', data: Float32Array.from([1, 1 + 2 ** -8]) },
      ],
    });
    const g = parseGguf(bytes);
    const bits = new Uint16Array(bytes.slice(g.tensors[0]!.offset, g.tensors[0]!.offset + 2 * values.length).buffer);
    // 1, -2, 0.1 → 0x2e66, max f16, 65520 rounds up to inf, 1e-7 → subnormal 2, 3e-8 → 1 (half of 2^-24 rounds up past it), ties to even
    assert.deepEqual([...bits], [0x3c00, 0xc000, 0x2e66, 0x7bff, 0x7c00, 2, 1, 0x3c00, 0x3c02]);
    const bf = new Uint16Array(bytes.slice(g.tensors[1]!.offset, g.tensors[1]!.offset + 4).buffer);
    assert.deepEqual([...bf], [0x3f80, 0x3f80]); // 1 + 2^-8 is a tie: to even
  });

  test('16-bit bits given as a Uint16Array are written as they are', () => {
    const bits = Uint16Array.from([0x3c00, 0xbc00]);
    const bytes = encode({ metadata: {}, tensors: [{ name: 'h', shape: [2], type: 'f16', data: bits }] });
    assert.deepEqual(ggufTensorValues(bytes, parseGguf(bytes).tensors[0]!), Float32Array.from([1, -1]));
  });

  test('bad metadata and tensors are refused with the key or tensor named', () => {
    const bad = (f: GgufToWrite, re: RegExp) => assert.throws(() => encodeGguf(f), (e: unknown) => e instanceof ArgumentError && re.test(e.message));
    bad({ metadata: { 'x.n': { type: 'u32', value: -1 } }, tensors: [] }, /"x\.n".*u32.*\[0, 4294967295\]/);
    bad({ metadata: { 'x.n': { type: 'u8', value: 1.5 } }, tensors: [] }, /"x\.n"/);
    bad({ metadata: { 'x.s': { type: 'string', value: 3 as unknown as string } }, tensors: [] }, /"x\.s".*string/);
    bad({ metadata: { 'x.a': { type: 'array', itemType: 'i32', value: [1, 'two'] } }, tensors: [] }, /"x\.a"\[1\]/);
    bad({ metadata: { 'x.t': { type: 'u128' } as unknown as GgufValue }, tensors: [] }, /"x\.t".*type one of/);
    bad({ metadata: {}, tensors: [{ name: 't', shape: [2, 2], type: 'f32', data: new Float32Array(3) }] }, /"t".*\[2, 2\] holds 4 values, data has 3/);
    bad({ metadata: {}, tensors: [{ name: 't', shape: [2], type: 'q4' as 'f32', data: new Float32Array(2) }] }, /"t".*type must be/);
    bad({ metadata: {}, tensors: [{ name: 't', shape: [1, 1, 1, 1, 1], type: 'f32', data: new Float32Array(1) }] }, /"t".*1 to 4/);
    bad({ metadata: {}, tensors: [{ name: 'x'.repeat(64), shape: [1], type: 'f32', data: new Float32Array(1) }] }, /1 to 63 bytes/);
    const one = { name: 't', shape: [1], type: 'f32' as const, data: new Float32Array(1) };
    bad({ metadata: {}, tensors: [one, one] }, /"t".*twice/);
    bad({ metadata: {}, tensors: [], alignment: 24 }, /power of two/);
    bad({ metadata: { 'general.alignment': { type: 'u32', value: 64 } }, tensors: [] }, /general\.alignment/);
  });

  test('a file that is not GGUF, or ends early, is a FormatError naming it', () => {
    const good = encode({ metadata: EVERY_TYPE, tensors: [{ name: 'w', shape: [4], type: 'f32', data: new Float32Array(4) }] });
    const formatError = (bytes: Uint8Array, re: RegExp) =>
      assert.throws(() => parseGguf(bytes, 'm.gguf'), (e: unknown) => e instanceof FormatError && e.message.startsWith('m.gguf: ') && re.test(e.message));
    formatError(new TextEncoder().encode('PK\x03\x04 not a gguf file at all'), /not a GGUF file/);
    formatError(good.subarray(0, 100), /ends inside/);
    formatError(good.subarray(0, good.length - 20), /tensor "w".*runs past the end/);
    const v2 = good.slice();
    new DataView(v2.buffer).setUint32(4, 1, true);
    formatError(v2, /version 1/);
  });
});

describe('tokenizer metadata', () => {
  test('the GPT-NeoX tokenizer.json becomes llama.cpp gpt2 keys padded to the vocabulary with unused tokens', () => {
    const json = JSON.parse(readFileSync(join(SHARED, 'data/tokenizers/gpt-neox-20b/tokenizer.json'), 'utf8')) as unknown;
    const m = byteLevelBpeGgufMetadata(json, 50280);
    const tokens = m['tokenizer.ggml.tokens']!.value as string[];
    const types = m['tokenizer.ggml.token_type']!.value as number[];
    assert.equal(tokens.length, 50280);
    assert.deepEqual([tokens[0], types[0]], ['<|endoftext|>', 3]); // control
    assert.deepEqual([tokens[50276], types[50276]], ['  ', 4]); // a non-special added token: user-defined
    assert.deepEqual([tokens[50279], types[50279]], ['[PAD50279]', 5]); // unused
    assert.equal(types[300], 1);
    assert.equal((m['tokenizer.ggml.merges']!.value as string[])[0], 'Ġ Ġ');
    assert.deepEqual([m['tokenizer.ggml.bos_token_id'], m['tokenizer.ggml.eos_token_id']], [{ type: 'u32', value: 0 }, { type: 'u32', value: 0 }]);
    assert.throws(() => byteLevelBpeGgufMetadata(json, 50000), /has id 5\d{4}, beyond the model's vocab_size 50000/);
  });

  test('the byte tokenizer names each byte as GPT-2 does and refuses fewer than 256 ids', () => {
    const alphabet = byteLevelAlphabet();
    assert.deepEqual([alphabet[0x20], alphabet[0x0a], alphabet[0x41]], ['Ġ', 'Ċ', 'A']);
    assert.equal(new Set(alphabet).size, 256);
    assert.equal((byteGgufMetadata(512)['tokenizer.ggml.tokens']!.value as string[]).length, 512);
    assert.throws(() => byteGgufMetadata(100), ArgumentError);
  });
});

describe('Mamba to GGUF', () => {
  const tiny = fixture('hf', 'mamba-tiny', 'model');

  test('names, shapes and types follow llama.cpp (16-bit matrices; A = -exp(A_log); tied head left out)', async () => {
    const model = await MambaForCausalLM.fromPretrained(tiny);
    const bytes = encode(await mambaGguf(model, { type: 'f16', tokenizer: byteGgufMetadata(512) }));
    const g = parseGguf(bytes, 'tiny.gguf');
    const byName = new Map(g.tensors.map((t) => [t.name, t]));
    assert.equal(g.tensors.length, 3 + 2 * 10 - 1); // token_embd, output_norm; 10 per layer; no output
    const want: [string, number[], string][] = [
      ['token_embd.weight', [512, 64], 'f16'],
      ['output_norm.weight', [64], 'f32'],
      ['blk.1.attn_norm.weight', [64], 'f32'],
      ['blk.1.ssm_in.weight', [256, 64], 'f16'],
      ['blk.1.ssm_conv1d.weight', [128, 4], 'f32'],
      ['blk.1.ssm_conv1d.bias', [128], 'f32'],
      ['blk.1.ssm_x.weight', [4 + 32, 128], 'f16'],
      ['blk.1.ssm_dt.weight', [128, 4], 'f16'],
      ['blk.1.ssm_dt.bias', [128], 'f32'],
      ['blk.1.ssm_a', [128, 16], 'f32'],
      ['blk.1.ssm_d', [128], 'f32'],
      ['blk.1.ssm_out.weight', [64, 128], 'f16'],
    ];
    for (const [name, shape, type] of want) assert.deepEqual([name, byName.get(name)?.shape, byName.get(name)?.type], [name, shape, type]);
    assert.ok(!byName.has('output.weight'));
    const meta = (k: string) => g.metadata.get(k)?.value;
    assert.deepEqual(
      ['general.architecture', 'mamba.embedding_length', 'mamba.block_count', 'mamba.ssm.inner_size', 'mamba.ssm.state_size', 'mamba.ssm.conv_kernel', 'mamba.ssm.time_step_rank', 'general.file_type'].map(meta),
      ['mamba', 64, 2, 128, 16, 4, 4, 1],
    );
    assert.equal(g.metadata.get('mamba.attention.layer_norm_rms_epsilon')?.type, 'f32');
    const aLog = (await model.namedParameters().find(([n]) => n === 'backbone.layers.1.mixer.A_log')![1].value.data()) as Float32Array;
    assertClose('ssm_a', ggufTensorValues(bytes, byName.get('blk.1.ssm_a')!), aLog.map((a) => -Math.exp(a)), 1e-7);
    const embed = (await model.backbone.embeddings.weight.value.data()) as Float32Array;
    assertClose('token_embd (f16)', ggufTensorValues(bytes, byName.get('token_embd.weight')!), embed, 1e-3);
    model.dispose();
  });

  test('what llama.cpp cannot run is refused with the reason; the tokenizer must fill the vocabulary', async () => {
    const make = (fields: Record<string, unknown>) => {
      const m = new MambaForCausalLM(MambaConfig.create({ hidden_size: 8, num_hidden_layers: 1, vocab_size: 256, use_bias: false, ...fields }));
      initMambaWeights(m, 0);
      return m;
    };
    for (const [fields, re] of [
      [{ use_bias: true }, /use_bias/],
      [{ intermediate_size: 24 }, /intermediate_size = 2 · hidden_size/],
    ] as const) {
      const m = make(fields);
      await assert.rejects(mambaGguf(m, { tokenizer: byteGgufMetadata(256) }), (e: unknown) => e instanceof UnsupportedError && re.test(e.message));
      m.dispose();
    }
    const m = make({});
    await assert.rejects(mambaGguf(m, { tokenizer: byteGgufMetadata(300) }), /exactly vocab_size \(256\) tokens.*300/);
    const noConvBias = make({ use_conv_bias: false });
    const g = parseGguf(encode(await mambaGguf(noConvBias, { tokenizer: byteGgufMetadata(256) })));
    assert.ok(g.tensors.some((t) => t.name === 'blk.0.ssm_conv1d.bias'), 'llama.cpp needs a conv bias: a zero one is written');
    m.dispose();
    noConvBias.dispose();
  });
});

/** Softmax over each row of `cols` values. */
function softmaxRows(x: ArrayLike<number>, cols: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / cols; r++) {
    let max = -Infinity;
    for (let c = 0; c < cols; c++) max = Math.max(max, x[r * cols + c]!);
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += out[r * cols + c] = Math.exp(x[r * cols + c]! - max);
    for (let c = 0; c < cols; c++) out[r * cols + c]! /= sum;
  }
  return out;
}

describe('llama.cpp runs the exported mamba-tiny as HF does', () => {
  test('next-token probabilities within 1e-4 of HF\'s softmax at every position, and greedy tokens identical', { skip: llamaCpp.missing ?? false }, async () => {
    const llama = llamaCpp.llama!;
    const model = await MambaForCausalLM.fromPretrained(fixture('hf', 'mamba-tiny', 'model'));
    const path = join(tmp, 'mamba-tiny-f32.gguf');
    writeFileSync(path, concat(encodeGguf(await mambaGguf(model, { tokenizer: byteGgufMetadata(512, { eos: 0 }) }))));
    model.dispose();
    const inputs = JSON.parse(readFileSync(fixture('hf', 'mamba-tiny', 'inputs.json'), 'utf8')) as { input_ids: number[][]; prompt_len: number; new_tokens: number; generated: number[][] };
    const expected = SafetensorsFile.parse(new Uint8Array(readFileSync(fixture('hf', 'mamba-tiny', 'expected.safetensors'))), 'expected.safetensors');
    const ref = expected.toFloat64('logits');
    const V = 512;
    const lm = await llama.loadModel({ modelPath: path });
    const ctx = await lm.createContext({ contextSize: 64, threads: 1 });
    const seq = ctx.getSequence({ checkpoints: { interval: false } });
    try {
      for (const [b, ids] of inputs.input_ids.entries()) {
        // node-llama-cpp 3.21 gives the next token's probabilities (raw logits came in 3.22, whose
        // platform packages are not all published): compared with the softmax of HF's logits.
        const res = await seq.controlledEvaluate((ids as Token[]).map((t): ControlledEvaluateInputItem => [t, { generateNext: { probabilities: true } }]));
        const probs = new Float64Array(ids.length * V);
        for (let i = 0; i < ids.length; i++) for (const [tok, v] of res[i]!.next!.probabilities!) probs[i * V + tok] = v;
        const want = softmaxRows(ref.subarray(b * ids.length * V, (b + 1) * ids.length * V), V);
        assertClose(`llama.cpp probabilities, row ${b}`, probs, want, 1e-4);
        await seq.clearHistory();

        const greedy: number[] = [];
        for await (const t of seq.evaluate(ids.slice(0, inputs.prompt_len) as Token[], { temperature: 0 })) {
          greedy.push(t);
          if (greedy.length === inputs.new_tokens) break;
        }
        assert.deepEqual(greedy, inputs.generated[b]!.slice(inputs.prompt_len), `greedy row ${b}`);
        await seq.clearHistory();
      }
    } finally {
      await ctx.dispose();
      await lm.dispose();
      await llama.dispose();
    }
  });
});
