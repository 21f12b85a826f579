/**
 * The Llama model (models/llama/) against a direct loop implementation of its equations
 * (llama-reference.ts) on random weights, on every device: logits with default and given
 * positions, left padding, decoding through the KV cache (prefill then steps equals the whole
 * sequence), greedy and sampled generation, no leaked tensors; and on the CPU: parameter gradients
 * against finite differences, a few AdamW steps lowering the loss, saving and loading.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { DeviceName } from '../src/backend/registry.js';
import { leftPad } from '../src/generation/attention-mask.js';
import { AutoModelForCausalLM } from '../src/models/auto.js';
import { LlamaConfig, type LlamaConfigFields } from '../src/models/llama/config.js';
import { initLlamaWeights } from '../src/models/llama/init.js';
import { LlamaForCausalLM } from '../src/models/llama/modeling.js';
import { tensor } from '../src/ops/index.js';
import { liveTensorCount } from '../src/tensor/memory.js';
import { AdamW } from '../src/train/adamw.js';
import { availableDevices } from './devices.js';
import { assertClose, randomArray } from './helpers.js';
import { llamaReference, weightsOf, type Weights } from './llama-reference.js';
import { paramGradcheck } from './module-gradcheck.js';

const tmp = mkdtempSync(join(tmpdir(), 'mamba-ts-llama-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** GQA (4 query heads on 2 KV heads), head_dim 8 ≠ hidden / heads, every bias, an untied head. */
const GQA: Partial<LlamaConfigFields> & { vocab_size: number } = {
  vocab_size: 40, hidden_size: 24, intermediate_size: 36, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 8,
  attention_bias: true, mlp_bias: true, rope_theta: 500, rms_norm_eps: 1e-5, tie_word_embeddings: false, pad_token_id: 0, eos_token_id: null,
};
/** Multi-head attention, tied embeddings, Llama 3.1's RoPE scaling (a kept, a blended and scaled frequencies). */
const TIED_LLAMA3: Partial<LlamaConfigFields> & { vocab_size: number } = {
  vocab_size: 40, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 2,
  rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 128 }, tie_word_embeddings: true, eos_token_id: null,
};

/** A model with random weights far from the init (norm weights around 1), on `device`. */
function randomModel(fields: Partial<LlamaConfigFields> & { vocab_size: number }, device: DeviceName, seed = 1): LlamaForCausalLM {
  const m = new LlamaForCausalLM(LlamaConfig.create(fields));
  m.namedParameters().forEach(([name, p], i) => {
    const n = p.shape.reduce((a, b) => a * b, 1);
    const scale = name.endsWith('norm.weight') ? 0.2 : 1.5 / Math.sqrt(p.shape[p.shape.length - 1]!);
    const data = randomArray(n, seed * 1000 + i).map((v) => (name.endsWith('norm.weight') ? 1 : 0) + scale * v);
    p.set(tensor(data, p.shape, { device }));
  });
  return m;
}

const IDS = [[3, 17, 5, 39, 8, 22, 11], [9, 1, 30, 30, 2, 14, 6]];
const V = 40;

/** Row b, position t of (B, L, V) logits. */
const at = (logits: ArrayLike<number>, L: number, b: number, t: number) => Array.from(logits).slice((b * L + t) * V, (b * L + t + 1) * V);

for (const device of await availableDevices())
describe(`llama on ${device}`, () => {
  for (const [name, fields] of [['GQA with biases', GQA], ['tied, llama3 RoPE scaling', TIED_LLAMA3]] as const) {
    test(`${name}: logits equal the loop reference (1e-4 of max|ref|), hidden states as HF`, async () => {
      const m = randomModel(fields, device);
      const w = await weightsOf(m);
      const out = await m.forward(IDS, { outputHiddenStates: true });
      assertClose('logits', await out.logits.data(), llamaReference(m.config.fields, w, IDS), 1e-4);
      const hs = out.hiddenStates!;
      assert.equal(hs.length, m.config.fields.num_hidden_layers + 1);
      hs.forEach((h) => assert.deepEqual(h.shape, [2, 7, m.config.fields.hidden_size]));
      // The first is the embeddings; the last, times the LM head, gives the logits.
      const E = w.get('model.embed_tokens.weight')!;
      const H = m.config.fields.hidden_size;
      assertClose('hidden_0', await hs[0]!.data(), IDS.flatMap((r) => r.flatMap((id) => Array.from(E.subarray(id * H, (id + 1) * H)))), 1e-6);
      [out.logits, ...hs].forEach((t) => t.dispose());
      m.dispose();
    });
  }

  test('positionIds: logits equal the reference at those positions; a common shift changes nothing but rounding (RoPE is relative)', async () => {
    const m = randomModel(GQA, device);
    const w = await weightsOf(m);
    const positions = [[5, 6, 7, 8, 9, 10, 11], [0, 2, 4, 6, 8, 10, 12]];
    const out = await m.forward(IDS, { positionIds: positions });
    const got = await out.logits.data();
    assertClose('logits at given positions', got, llamaReference(m.config.fields, w, IDS, positions), 1e-4);
    const plain = await m.forward(IDS);
    const want = await plain.logits.data();
    assertClose('row 0 shifted by 5', got.subarray(0, 7 * V), want.subarray(0, 7 * V), 1e-4);
    [out.logits, plain.logits].forEach((t) => t.dispose());
    await assert.rejects(m.forward(IDS, { positionIds: [[0, 1, 2, 3, 4, 5, 2 ** 24], positions[1]!] }), /positionIds\[0\]\[6\] = 16777216; expected an integer in \[0, 16777216\)/);
    await assert.rejects(m.forward(IDS, { positionIds: [[0, 1]] }), /positionIds: must have 2 rows/);
    m.dispose();
  });

  test('left padding: padded keys are not attended to, and real positions equal each prompt alone', async () => {
    const m = randomModel(GQA, device);
    const w = await weightsOf(m);
    const prompts = [IDS[0]!, IDS[1]!.slice(3)];
    const { ids, attentionMask } = leftPad(prompts, 0);
    const out = await m.forward(ids, { attentionMask });
    const got = await out.logits.data();
    out.logits.dispose();
    assertClose('padded batch', got, llamaReference(m.config.fields, w, ids, undefined, attentionMask), 1e-4);
    const alone = await m.forward([prompts[1]!]);
    // HF's forward keeps positions 0..L-1 for a padded row (its real tokens sit 3 later): equal up to rounding.
    assertClose('row 1 alone', got.subarray((7 + 3) * V, 14 * V), await alone.logits.data(), 1e-4);
    alone.logits.dispose();
    m.dispose();
  });

  test('prefill then steps of any size equals the whole sequence (the KV cache chains)', async () => {
    const m = randomModel(GQA, device);
    const full = await m.forward(IDS);
    const want = await full.logits.data();
    full.logits.dispose();
    const cache = m.createCache(2);
    for (const [a, b] of [[0, 4], [4, 6], [6, 7]] as const) {
      const lg = m.nextLogits(IDS.map((r) => r.slice(a, b)), cache);
      assertClose(`logits after ${b} tokens`, await lg.data(), [0, 1].flatMap((r) => at(want, 7, r, b - 1)), 1e-4);
      lg.dispose();
    }
    assert.equal(cache.seqlenOffset, 7);
    assert.ok(cache.memoryBytes() > 0);
    cache.dispose();
    m.dispose();
  });

  test('a left-padded prefill then steps: positions count real tokens only (as HF generate), each row equals itself alone', async () => {
    const m = randomModel(TIED_LLAMA3, device);
    const prompts = [IDS[0]!.slice(0, 6), IDS[1]!.slice(0, 2)];
    const { ids, attentionMask } = leftPad(prompts, 0);
    const next = [[4], [7]];
    const cache = m.createCache(2);
    m.nextLogits(ids, cache, attentionMask).dispose();
    const step = m.nextLogits(next, cache);
    const got = await step.data();
    step.dispose();
    cache.dispose();
    for (const [b, p] of prompts.entries()) {
      const alone = await m.forward([[...p, next[b]![0]!]]);
      const want = await alone.logits.data();
      alone.logits.dispose();
      assertClose(`row ${b}`, got.subarray(b * V, (b + 1) * V), want.subarray(p.length * V), 1e-4);
    }
    m.dispose();
  });

  test('greedy generation: follows the reference argmax, and a left-padded batch equals each prompt alone; no tensor leaks', async () => {
    const m = randomModel(GQA, device);
    const w = await weightsOf(m);
    const before = liveTensorCount();
    const o = { maxNewTokens: 5, doSample: false, eosTokenId: null };
    const [got] = await m.generate([IDS[0]!.slice(0, 4)], o);
    const seq = IDS[0]!.slice(0, 4);
    for (let i = 0; i < 5; i++) {
      const logits = llamaReference(m.config.fields, w, [seq]);
      const last = at(logits, seq.length, 0, seq.length - 1);
      seq.push(last.indexOf(Math.max(...last)));
    }
    assert.deepEqual(got, seq);
    const prompts = [IDS[0]!.slice(0, 6), IDS[1]!.slice(0, 3), IDS[1]!.slice(2, 7)];
    const batched = await m.generate(prompts, o);
    for (const [b, p] of prompts.entries()) assert.deepEqual(batched[b], (await m.generate([p], o))[0], `row ${b}`);
    assert.equal(liveTensorCount(), before);
    m.dispose();
  });

  test('sampled generation is reproducible with a seed', async () => {
    const m = randomModel(TIED_LLAMA3, device);
    const o = { maxNewTokens: 6, doSample: true, temperature: 1.5, topK: 20, topP: 0.95, seed: 11, eosTokenId: null };
    const a = await m.generate([IDS[0]!.slice(0, 3), IDS[1]!.slice(0, 5)], o);
    const b = await m.generate([IDS[0]!.slice(0, 3), IDS[1]!.slice(0, 5)], o);
    assert.deepEqual(a, b);
    assert.deepEqual(a.map((r) => r.length), [9, 11]);
    m.dispose();
  });
});

describe('llama training and files (CPU)', () => {
  test('every parameter gradient equals finite differences', async () => {
    const m = randomModel({ ...GQA, hidden_size: 8, intermediate_size: 12, head_dim: 4, vocab_size: 12 }, 'cpu');
    const ids = [[3, 1, 7, 2, 11]];
    const r = await paramGradcheck(m, () => m.forwardSync(ids).logits, { perParam: 3 });
    assert.ok(r.checked > 50);
    assert.ok(r.maxError <= 2e-3 * Math.max(1, r.scale), `max error ${r.maxError} (${r.worst})`);
    m.dispose();
  });

  test('AdamW steps on the gradients lower the loss of a batch', async () => {
    const m = new LlamaForCausalLM(LlamaConfig.create({ ...GQA, num_hidden_layers: 1 }));
    initLlamaWeights(m, 3);
    m.requiresGrad_(true);
    const opt = new AdamW(m.namedParameters(), { lr: 0.02 });
    const losses: number[] = [];
    for (let step = 0; step < 15; step++) {
      const out = m.forwardSync(IDS, { labels: IDS });
      out.loss!.backward();
      losses.push((await out.loss!.data())[0]!);
      out.logits.dispose();
      out.loss!.dispose();
      opt.update();
      m.zeroGrad();
    }
    assert.ok(Math.abs(losses[0]! - Math.log(V)) < 0.2, `initial loss ${losses[0]} ≈ ln ${V}`);
    assert.ok(losses.at(-1)! < 0.5 * losses[0]!, `losses ${losses.map((l) => l.toFixed(3)).join(' ')}`);
    m.dispose();
  });

  test('save writes HF names and config (both RoPE layouts, floats as floats); AutoModelForCausalLM loads the same model', async () => {
    for (const [name, fields] of [['gqa', GQA], ['tied', TIED_LLAMA3]] as const) {
      const m = randomModel(fields, 'cpu');
      const dir = join(tmp, name);
      await m.save(dir);
      const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
      assert.deepEqual(cfg['architectures'], ['LlamaForCausalLM']);
      assert.equal(cfg['model_type'], 'llama');
      const text = readFileSync(join(dir, 'config.json'), 'utf8');
      assert.match(text, /"rope_theta": \d+\.0/);
      assert.match(text, /"rms_norm_eps": /);
      const rp = cfg['rope_parameters'] as Record<string, unknown>;
      assert.equal(rp['rope_theta'], m.config.fields.rope_theta);
      assert.equal(rp['rope_type'], m.config.fields.rope_scaling?.rope_type ?? 'default');
      const loaded = await AutoModelForCausalLM.fromPretrained(dir);
      assert.ok(loaded instanceof LlamaForCausalLM);
      assert.deepEqual(loaded.config.fields, m.config.fields);
      assert.deepEqual([...loaded.invFreq], [...m.invFreq]);
      const a = await m.forward(IDS);
      const b = await loaded.forward(IDS);
      assert.deepEqual(await b.logits.data(), await a.logits.data());
      [a.logits, b.logits].forEach((t) => t.dispose());
      const names = (await weightsOf(loaded)) satisfies Weights;
      assert.equal(names.has('lm_head.weight'), !fields.tie_word_embeddings);
      m.dispose();
      loaded.dispose();
    }
  });
});
