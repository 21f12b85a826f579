/**
 * forward(ids, { outputSelection }) on every device: the Δ, B, C each Mamba layer returns equal a
 * direct computation from the layer's weights and the hidden state going into it (plain loops in
 * float64, below: RMSNorm → in_proj → causal conv1d with bias → SiLU → x_proj split → (Jamba's
 * inner norms) → dt_proj + bias → softplus); the summaries are the means and norms of those
 * tensors; the logits do not change; nothing leaks; bad values and models without selection are
 * refused.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DeviceName } from '../src/backend/registry.js';
import { ArgumentError } from '../src/errors.js';
import { JambaConfig } from '../src/models/jamba/config.js';
import { initJambaWeights } from '../src/models/jamba/init.js';
import { JambaForCausalLM } from '../src/models/jamba/modeling.js';
import { MambaConfig } from '../src/models/mamba/config.js';
import { initMambaWeights } from '../src/models/mamba/init.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import type { SelectionOutput } from '../src/models/selection.js';
import type { RMSNorm } from '../src/nn/layers.js';
import type { MambaMixer } from '../src/nn/mamba-mixer.js';
import type { Module } from '../src/nn/module.js';
import { tensor } from '../src/ops/index.js';
import { dispose, liveTensorCount } from '../src/tensor/memory.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { buildTiny } from './tiny-causal-lms.js';
import { availableDevices } from './devices.js';
import { assertClose, randomArray } from './helpers.js';

const V = 53;
const IDS = [
  [5, 17, 3, 44, 9, 9, 28],
  [50, 1, 12, 7, 33, 2, 40],
];
const REL = 1e-5;

async function values(t: Tensor): Promise<Float32Array> {
  return (await t.data()) as Float32Array;
}

/**
 * Norm weights and biases away from their initial 1 and 0, so the test sees whether each is
 * applied (initialisation leaves them neutral).
 */
function perturbNormsAndBiases(model: Module, device: DeviceName): void {
  let seed = 100;
  for (const [name, p] of model.namedParameters()) {
    if (p.shape.length !== 1) continue;
    const isNorm = /norm[^.]*\.weight$/.test(name);
    if (!isNorm && !name.endsWith('.bias')) continue;
    const n = p.shape[0]!;
    p.set(tensor(randomArray(n, seed++, isNorm ? 0.5 : -0.5, isNorm ? 1.5 : 0.5), [n], { device }), name);
  }
}

/** float64 copy of a tensor's values. */
async function f64(t: Tensor): Promise<Float64Array> {
  return Float64Array.from(await values(t));
}

/** Row-wise RMSNorm of `x` (rows of `n`), as HF's: x · rsqrt(mean(x²) + eps) · w. */
function rmsNormRows(x: Float64Array, n: number, w: Float64Array, eps: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / n; r++) {
    let ss = 0;
    for (let i = 0; i < n; i++) ss += x[r * n + i]! ** 2;
    const k = 1 / Math.sqrt(ss / n + eps);
    for (let i = 0; i < n; i++) out[r * n + i] = x[r * n + i]! * k * w[i]!;
  }
  return out;
}

/** y = W x (+ b) for W (rows, cols) row-major and x given at an offset. */
function matVec(W: Float64Array, rows: number, cols: number, x: ArrayLike<number>, xAt: number, b: Float64Array | null): Float64Array {
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = b ? b[r]! : 0;
    for (let c = 0; c < cols; c++) s += W[r * cols + c]! * x[xAt + c]!;
    y[r] = s;
  }
  return y;
}

const softplus = (v: number) => (v > 20 ? v : Math.log1p(Math.exp(v)));
const silu = (v: number) => v / (1 + Math.exp(-v));

/**
 * Δ (B, L, E), B and C (B, L, N) of `mixer` for the layer input `h` (B, L, H), normed by `norm`
 * first, computed from the weights with loops.
 */
async function referenceSelection(mixer: MambaMixer, norm: RMSNorm, h: Float64Array, Bsz: number, L: number) {
  const { hiddenSize: H, intermediateSize: E, stateSize: N, convKernel: K, dtRank: R } = mixer.dims;
  const inW = await f64(mixer.in_proj.weight.value);
  const inB = mixer.in_proj.bias ? await f64(mixer.in_proj.bias.value) : null;
  const convW = await f64(mixer.conv1d.weight.value); // (E, 1, K)
  const convB = mixer.conv1d.bias ? await f64(mixer.conv1d.bias.value) : null;
  const xW = await f64(mixer.x_proj.weight.value); // (R + 2N, E)
  const dtW = await f64(mixer.dt_proj.weight.value); // (E, R)
  const dtB = await f64(mixer.dt_proj.bias!.value);
  const inner = mixer.innerNorms;
  const innerW = inner && { dt: await f64(inner.dt.weight.value), b: await f64(inner.b.weight.value), c: await f64(inner.c.weight.value), eps: inner.dt.eps };

  const normed = rmsNormRows(h, H, await f64(norm.weight.value), norm.eps);
  const x = new Float64Array(Bsz * L * E); // in_proj's first half
  for (let r = 0; r < Bsz * L; r++) x.set(matVec(inW, 2 * E, H, normed, r * H, inB).subarray(0, E), r * E);
  const delta = new Float64Array(Bsz * L * E);
  const Bm = new Float64Array(Bsz * L * N);
  const Cm = new Float64Array(Bsz * L * N);
  for (let b = 0; b < Bsz; b++) {
    for (let t = 0; t < L; t++) {
      const xc = new Float64Array(E);
      for (let e = 0; e < E; e++) {
        // Causal: output t sees inputs t-K+1 .. t (zeros before the start).
        let s = convB ? convB[e]! : 0;
        for (let k = 0; k < K; k++) {
          const src = t - (K - 1) + k;
          if (src >= 0) s += convW[e * K + k]! * x[(b * L + src) * E + e]!;
        }
        xc[e] = silu(s);
      }
      const dbl = matVec(xW, R + 2 * N, E, xc, 0, null);
      let dt = dbl.subarray(0, R);
      let Bt = dbl.subarray(R, R + N);
      let Ct = dbl.subarray(R + N);
      if (innerW) {
        dt = rmsNormRows(dt, R, innerW.dt, innerW.eps);
        Bt = rmsNormRows(Bt, N, innerW.b, innerW.eps);
        Ct = rmsNormRows(Ct, N, innerW.c, innerW.eps);
      }
      const d = matVec(dtW, E, R, dt, 0, dtB);
      const row = b * L + t;
      for (let e = 0; e < E; e++) delta[row * E + e] = softplus(d[e]!);
      Bm.set(Bt, row * N);
      Cm.set(Ct, row * N);
    }
  }
  return { delta, B: Bm, C: Cm };
}

/** The summaries of `sel` against the means and norms of its own full tensors. */
async function checkSummaries(sel: SelectionOutput, Bsz: number, L: number): Promise<void> {
  const n = sel.layers.length;
  assert.deepEqual(sel.deltaMean.shape, [n, Bsz, L]);
  assert.deepEqual(sel.bNorm.shape, [n, Bsz, L]);
  assert.deepEqual(sel.cNorm.shape, [n, Bsz, L]);
  const mean = new Float64Array(n * Bsz * L);
  const bNorm = new Float64Array(n * Bsz * L);
  const cNorm = new Float64Array(n * Bsz * L);
  for (let l = 0; l < n; l++) {
    const d = await values(sel.delta![l]!);
    const b = await values(sel.B![l]!);
    const c = await values(sel.C![l]!);
    const E = d.length / (Bsz * L);
    const N = b.length / (Bsz * L);
    for (let r = 0; r < Bsz * L; r++) {
      let s = 0;
      for (let e = 0; e < E; e++) s += d[r * E + e]!;
      mean[l * Bsz * L + r] = s / E;
      let sb = 0;
      let sc = 0;
      for (let i = 0; i < N; i++) {
        sb += b[r * N + i]! ** 2;
        sc += c[r * N + i]! ** 2;
      }
      bNorm[l * Bsz * L + r] = Math.sqrt(sb);
      cNorm[l * Bsz * L + r] = Math.sqrt(sc);
    }
  }
  assertClose('deltaMean', await values(sel.deltaMean), mean, REL);
  assertClose('bNorm', await values(sel.bNorm), bNorm, REL);
  assertClose('cNorm', await values(sel.cNorm), cNorm, REL);
}

function tinyMamba(device: DeviceName): MambaForCausalLM {
  const m = new MambaForCausalLM(MambaConfig.create({ hidden_size: 16, state_size: 6, num_hidden_layers: 3, vocab_size: V, use_bias: true, use_conv_bias: true }));
  initMambaWeights(m, 11, device);
  perturbNormsAndBiases(m, device);
  return m;
}

function tinyJamba(device: DeviceName): JambaForCausalLM {
  const m = new JambaForCausalLM(
    JambaConfig.create({
      vocab_size: V, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 4, num_attention_heads: 2, num_key_value_heads: 1, num_experts: 2,
      num_experts_per_tok: 1, expert_layer_period: 2, expert_layer_offset: 1, attn_layer_period: 2, attn_layer_offset: 1, mamba_d_state: 6,
      mamba_d_conv: 4, mamba_expand: 2, mamba_dt_rank: 3, mamba_proj_bias: true, mamba_conv_bias: true, pad_token_id: 0, bos_token_id: null, eos_token_id: null,
    }),
  );
  initJambaWeights(m, 12, device);
  perturbNormsAndBiases(m, device);
  return m;
}

const Bsz = IDS.length;
const L = IDS[0]!.length;

for (const device of await availableDevices())
describe(`forward({ outputSelection }) on ${device}`, () => {
  test('Mamba: Δ, B, C equal a direct computation from the weights; summaries, logits unchanged, no leaks', async () => {
    const model = tinyMamba(device);
    try {
      const plain = await model.forward(IDS);
      const want = await values(plain.logits);
      dispose(plain);
      const live = liveTensorCount();
      const out = await model.forward(IDS, { outputSelection: true, outputHiddenStates: true });
      assert.deepEqual(await values(out.logits), want, 'the logits are the same with outputSelection');
      const sel = out.selection!;
      const f = model.config.fields;
      assert.deepEqual(sel.layers, [0, 1, 2]);
      assert.equal(sel.delta!.length, 3);
      // Layer 0's input is the embedding of the ids; layer l's is the residual stream after layer l-1.
      const table = await f64(model.backbone.embeddings.weight.value);
      const H = f.hidden_size;
      const embedded = new Float64Array(Bsz * L * H);
      IDS.flat().forEach((id, r) => embedded.set(table.subarray(id * H, (id + 1) * H), r * H));
      for (const [l, layer] of model.backbone.layers.entries()) {
        const h = l === 0 ? embedded : await f64(out.hiddenStates![l - 1]!);
        const ref = await referenceSelection(layer.mixer, layer.norm, h, Bsz, L);
        assert.deepEqual(sel.delta![l]!.shape, [Bsz, L, f.intermediate_size]);
        assert.deepEqual(sel.B![l]!.shape, [Bsz, L, f.state_size]);
        assert.deepEqual(sel.C![l]!.shape, [Bsz, L, f.state_size]);
        assertClose(`layer ${l} Δ`, await values(sel.delta![l]!), ref.delta, REL);
        assertClose(`layer ${l} B`, await values(sel.B![l]!), ref.B, REL);
        assertClose(`layer ${l} C`, await values(sel.C![l]!), ref.C, REL);
      }
      await checkSummaries(sel, Bsz, L);

      // 'summary' gives the same summaries without the full tensors.
      const small = await model.forward(IDS, { outputSelection: 'summary' });
      assert.equal(small.selection!.delta, undefined);
      assert.equal(small.selection!.B, undefined);
      assert.equal(small.selection!.C, undefined);
      assert.deepEqual(await values(small.selection!.deltaMean), await values(sel.deltaMean));
      assert.deepEqual(await values(small.selection!.bNorm), await values(sel.bNorm));
      assert.deepEqual(await values(small.selection!.cNorm), await values(sel.cNorm));
      dispose(out);
      dispose(small);
      assert.equal(liveTensorCount(), live, 'every returned tensor is the caller\'s, and nothing else stays');
      // The same model without selection is as before.
      const again = await model.forward(IDS, { outputSelection: false });
      assert.equal(again.selection, undefined);
      dispose(again);
    } finally {
      model.dispose();
    }
  });

  test('Jamba: the Mamba layers\' Δ, B, C (after the inner norms) equal a direct computation; summaries, logits unchanged, no leaks', async () => {
    const model = tinyJamba(device);
    try {
      const plain = await model.forward(IDS);
      const want = await values(plain.logits);
      dispose(plain);
      const live = liveTensorCount();
      const out = await model.forward(IDS, { outputSelection: true, outputHiddenStates: true });
      assert.deepEqual(await values(out.logits), want, 'the logits are the same with outputSelection');
      const sel = out.selection!;
      assert.deepEqual(sel.layers, [0, 2], 'the Mamba layers only (1 and 3 are attention)');
      for (const [k, l] of sel.layers.entries()) {
        const layer = model.model.layers[l]!;
        // Jamba's hidden states are the inputs of each layer.
        const ref = await referenceSelection(layer.mamba!, layer.input_layernorm, await f64(out.hiddenStates![l]!), Bsz, L);
        assertClose(`layer ${l} Δ`, await values(sel.delta![k]!), ref.delta, REL);
        assertClose(`layer ${l} B`, await values(sel.B![k]!), ref.B, REL);
        assertClose(`layer ${l} C`, await values(sel.C![k]!), ref.C, REL);
      }
      await checkSummaries(sel, Bsz, L);
      const small = await model.forward(IDS, { outputSelection: 'summary' });
      assert.equal(small.selection!.delta, undefined);
      assert.deepEqual(await values(small.selection!.deltaMean), await values(sel.deltaMean));
      dispose(out);
      dispose(small);
      assert.equal(liveTensorCount(), live, 'nothing leaks');
    } finally {
      model.dispose();
    }
  });

  test('Jamba with left padding: real positions as the prompt alone; padded positions have B = C = 0', async () => {
    const model = tinyJamba(device);
    try {
      const short = IDS[1]!.slice(3); // 4 tokens, padded by 3 on the left
      const pad = L - short.length;
      const padded = [IDS[0]!, [0, 0, 0, ...short]];
      const attentionMask = [IDS[0]!.map(() => 1), padded[1]!.map((_, t) => (t < pad ? 0 : 1))];
      const batch = await model.forward(padded, { attentionMask, outputSelection: true });
      const alone = await model.forward([short], { outputSelection: true });
      const N = model.config.fields.mamba_d_state;
      for (const k of batch.selection!.layers.keys()) {
        const b = await values(batch.selection!.B![k]!);
        const c = await values(batch.selection!.C![k]!);
        const row1 = (t: Float32Array, from: number, to: number) => t.subarray((L + from) * N, (L + to) * N);
        assert.ok(row1(b, 0, pad).every((v) => v === 0) && row1(c, 0, pad).every((v) => v === 0), `layer ${k}: B = C = 0 at the padding`);
        assertClose(`layer ${k} B (real tokens)`, row1(b, pad, L), await values(alone.selection!.B![k]!), 1e-4);
        assertClose(`layer ${k} C (real tokens)`, row1(c, pad, L), await values(alone.selection!.C![k]!), 1e-4);
      }
      dispose(batch);
      dispose(alone);
    } finally {
      model.dispose();
    }
  });
});

describe('outputSelection is checked', () => {
  const argError = (re: RegExp) => (e: unknown) => e instanceof ArgumentError && re.test(e.message);
  test('values other than true, false and \'summary\' are refused, as are misspellings', async () => {
    const mamba = tinyMamba('cpu');
    const jamba = tinyJamba('cpu');
    try {
      const live = liveTensorCount();
      for (const m of [mamba, jamba]) {
        const forward = m.forward.bind(m) as (ids: number[][], o: unknown) => Promise<unknown>;
        await assert.rejects(forward(IDS, { outputSelection: 'full' }), argError(/outputSelection must be true, false or 'summary', got "full"/));
        await assert.rejects(forward(IDS, { outputSelection: 1 }), argError(/outputSelection must be/));
        await assert.rejects(forward(IDS, { output_selection: true }), argError(/did you mean 'outputSelection'/));
      }
      assert.equal(liveTensorCount(), live, 'a refused call allocates nothing');
    } finally {
      mamba.dispose();
      jamba.dispose();
    }
  });

  test('Llama, which has no selection mechanism, refuses it by name', async () => {
    const llama = buildTiny('llama', 'cpu') as unknown as { forward(ids: number[][], o: unknown): Promise<unknown>; dispose(): void };
    try {
      await assert.rejects(llama.forward([[1, 2, 3]], { outputSelection: true }), argError(/outputSelection: Llama has no selection mechanism/));
      await assert.rejects(llama.forward([[1, 2, 3]], { outputSelection: false }), argError(/Llama has no selection mechanism/));
    } finally {
      llama.dispose();
    }
  });
});
