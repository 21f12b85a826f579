/**
 * Llama's equations written out directly, for testing LlamaForCausalLM: plain loops over float64
 * numbers, token by token and head by head, from HF modeling_llama.py's definitions — nothing from
 * the library but the weights' values.
 */
import type { LlamaConfigFields } from '../src/models/llama/config.js';
import type { Module } from '../src/nn/module.js';

export type Weights = Map<string, Float64Array>;

/** Every parameter of `m` by its HF name, as float64. */
export async function weightsOf(m: Module): Promise<Weights> {
  const w: Weights = new Map();
  for (const [name, p] of m.namedParameters()) w.set(name, Float64Array.from(await p.value.data()));
  return w;
}

/** y = W x (+ b) for W (out, in) row-major. */
function project(W: Float64Array, x: number[], b?: Float64Array): number[] {
  const n = x.length;
  return Array.from({ length: W.length / n }, (_, o) => {
    let s = b ? b[o]! : 0;
    for (let i = 0; i < n; i++) s += W[o * n + i]! * x[i]!;
    return s;
  });
}

function rmsNorm(x: number[], w: Float64Array, eps: number): number[] {
  const ms = x.reduce((s, v) => s + v * v, 0) / x.length;
  return x.map((v, i) => (v / Math.sqrt(ms + eps)) * w[i]!);
}

const silu = (v: number) => v / (1 + Math.exp(-v));

/**
 * HF's default RoPE frequencies (1 / θ^(2i/d), float32), or the llama3 / linear scaling of them as
 * modeling_rope_utils.py's _compute_llama3_parameters / _compute_linear_scaling_rope_parameters.
 */
export function referenceInvFreq(f: LlamaConfigFields): number[] {
  const d = f.head_dim;
  const base = Array.from({ length: d / 2 }, (_, i) => Math.fround(1 / Math.pow(f.rope_theta, (2 * i) / d)));
  const s = f.rope_scaling;
  if (!s) return base;
  if (s.rope_type === 'linear') return base.map((v) => v / s.factor);
  const lowWavelen = s.original_max_position_embeddings / s.low_freq_factor;
  const highWavelen = s.original_max_position_embeddings / s.high_freq_factor;
  return base.map((v) => {
    const wavelen = (2 * Math.PI) / v;
    const scaled = wavelen > lowWavelen ? v / s.factor : v;
    const medium = !(wavelen < highWavelen) && !(wavelen > lowWavelen);
    if (!medium) return scaled;
    const smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
    return ((1 - smooth) * scaled) / s.factor + smooth * scaled;
  });
}

/** q · cos(emb) + rotate_half(q) · sin(emb), emb = cat(freqs, freqs), freqs = fround(pos · invFreq). */
function applyRope(q: number[], pos: number, invFreq: number[]): number[] {
  const half = q.length / 2;
  const emb = [...invFreq, ...invFreq].map((f) => Math.fround(pos * f));
  const rotated = [...q.slice(half).map((v) => -v), ...q.slice(0, half)];
  return q.map((v, j) => v * Math.cos(emb[j]!) + rotated[j]! * Math.sin(emb[j]!));
}

/**
 * Logits (B·L·V, row-major) of LlamaForCausalLM for `ids`, at `positions` (default 0..L-1), with
 * `mask` (1 = real token, 0 = padding: such keys are not attended to; a query that sees no real
 * key gets a zero attention output, as the library's kernels give).
 */
export function llamaReference(f: LlamaConfigFields, w: Weights, ids: number[][], positions?: number[][], mask?: number[][]): Float64Array {
  const W = (n: string) => {
    const t = w.get(n);
    if (!t) throw new Error(`reference: no weight ${n}`);
    return t;
  };
  const opt = (n: string) => w.get(n);
  const H = f.hidden_size;
  const [nq, nkv, hd] = [f.num_attention_heads, f.num_key_value_heads, f.head_dim];
  const group = nq / nkv;
  const invFreq = referenceInvFreq(f);
  const V = f.vocab_size;
  const L = ids[0]!.length;
  const out = new Float64Array(ids.length * L * V);
  const E = W('model.embed_tokens.weight');
  const head = f.tie_word_embeddings ? E : W('lm_head.weight');
  ids.forEach((row, b) => {
    let h = row.map((id) => Array.from(E.subarray(id * H, (id + 1) * H)));
    for (let l = 0; l < f.num_hidden_layers; l++) {
      const p = `model.layers.${l}.`;
      const x = h.map((v) => rmsNorm(v, W(`${p}input_layernorm.weight`), f.rms_norm_eps));
      const pos = (t: number) => positions?.[b]![t] ?? t;
      const heads = (name: string, n: number, rotate: boolean) =>
        x.map((v, t) => {
          const all = project(W(`${p}self_attn.${name}.weight`), v, opt(`${p}self_attn.${name}.bias`));
          return Array.from({ length: n }, (_, j) => (rotate ? applyRope(all.slice(j * hd, (j + 1) * hd), pos(t), invFreq) : all.slice(j * hd, (j + 1) * hd)));
        });
      const q = heads('q_proj', nq, true);
      const k = heads('k_proj', nkv, true);
      const v = heads('v_proj', nkv, false);
      const ctx = x.map((_, t) => {
        const o: number[] = [];
        for (let j = 0; j < nq; j++) {
          const g = Math.floor(j / group);
          const visible = Array.from({ length: t + 1 }, (_, s) => s).filter((s) => !mask || mask[b]![s] === 1);
          if (visible.length === 0) {
            o.push(...new Array<number>(hd).fill(0));
            continue;
          }
          const scores = visible.map((s) => q[t]![j]!.reduce((acc, qv, c) => acc + qv * k[s]![g]![c]!, 0) / Math.sqrt(hd));
          const m = Math.max(...scores);
          const e = scores.map((sc) => Math.exp(sc - m));
          const z = e.reduce((a, c) => a + c, 0);
          for (let c = 0; c < hd; c++) o.push(visible.reduce((acc, s, i) => acc + (e[i]! / z) * v[s]![g]![c]!, 0));
        }
        return o;
      });
      const h1 = h.map((hv, t) => {
        const a = project(W(`${p}self_attn.o_proj.weight`), ctx[t]!, opt(`${p}self_attn.o_proj.bias`));
        return hv.map((val, i) => val + a[i]!);
      });
      h = h1.map((hv) => {
        const y = rmsNorm(hv, W(`${p}post_attention_layernorm.weight`), f.rms_norm_eps);
        const gate = project(W(`${p}mlp.gate_proj.weight`), y, opt(`${p}mlp.gate_proj.bias`));
        const up = project(W(`${p}mlp.up_proj.weight`), y, opt(`${p}mlp.up_proj.bias`));
        const d = project(W(`${p}mlp.down_proj.weight`), gate.map((g, i) => silu(g) * up[i]!), opt(`${p}mlp.down_proj.bias`));
        return hv.map((val, i) => val + d[i]!);
      });
    }
    h.forEach((hv, t) => out.set(project(head, rmsNorm(hv, W('model.norm.weight'), f.rms_norm_eps)), (b * L + t) * V));
  });
  return out;
}
