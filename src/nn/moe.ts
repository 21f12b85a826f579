/**
 * Jamba's feed-forwards (HF `JambaMLP`, `JambaSparseMoeBlock`) and the Switch-style
 * load-balancing loss (HF `load_balancing_loss_func`, copied from Mixtral).
 *
 * Routing (jamba.md §2.4): p = softmax(router(x)) over all experts, keep the top k per token,
 * and weight each kept expert by its p — NOT renormalised to sum to 1 (Mixtral does; Jamba doesn't).
 * Tokens are grouped per expert, so each expert computes only the tokens routed to it.
 */
import { add, concat, embedding, gatherRows, linear, moeStep, mul, reshape, RowIndex, scale, scatterAddRows, silu, slice, softmax, stackWeights, sum, tensor, topK, transpose } from '../ops/index.js';
import type { DeviceName } from '../backend/registry.js';
import { ArgumentError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { Linear } from './layers.js';
import { Module } from './module.js';
import { Segments } from './segments.js';
import { keep, tidy } from '../tensor/memory.js';
import { isRecording, shouldRecord } from '../autograd/tape.js';

/**
 * SwiGLU: down(silu(gate(x)) · up(x)), without biases (Jamba's; also Llama's LlamaMLP, which has
 * them where its config sets mlp_bias).
 */
export class JambaMLP extends Module {
  readonly gate_proj: Linear;
  readonly up_proj: Linear;
  readonly down_proj: Linear;
  constructor(hidden: number, intermediate: number, bias = false) {
    super();
    this.gate_proj = this.child('gate_proj', new Linear(hidden, intermediate, bias));
    this.up_proj = this.child('up_proj', new Linear(hidden, intermediate, bias));
    this.down_proj = this.child('down_proj', new Linear(intermediate, hidden, bias));
  }
  forward(x: Tensor): Tensor {
    return this.down_proj.forward(mul(silu(this.gate_proj.forward(x)), this.up_proj.forward(x)));
  }
}

/** The n × n identity: embedding rows of it are one-hot vectors of int32 indices. */
function identity(n: number, device: DeviceName): Tensor {
  const m = new Float32Array(n * n);
  for (let i = 0; i < n; i++) m[i * n + i] = 1;
  return tensor(m, [n, n], { device });
}

/**
 * Which experts each row picks: one-hot of topK(p, k) indices (T, k, n). Taking the indices from
 * topK (rather than comparing with the k-th value) keeps HF's choice when probabilities tie.
 */
function selectedOneHot(p: Tensor, k: number): Tensor {
  const n = p.shape[p.rank - 1]!;
  const { values, indices } = topK(p, k);
  values.dispose();
  return embedding(indices, identity(n, p.device as DeviceName), true);
}

/** Sum over axis 0 of a (T, ...rest) tensor → (...rest), via a transpose to the last axis. */
function sumRows(x: Tensor): Tensor {
  const perm = [...x.shape.keys()].slice(1).concat(0);
  return sum(transpose(x, perm));
}

/** The router's decision for a (T, H) block of tokens (see SparseMoE.route). */
export interface MoeRouting {
  flat: Tensor; // (T, H) the tokens
  routerLogits: Tensor; // (T, n)
  probs: Tensor; // (T, n) softmax of the logits, float32
  topIndices: Tensor; // (T, k) int32, the chosen experts of each token, best first
}

export interface MoeOutput {
  out: Tensor; // (B, L, H)
  routerLogits: Tensor; // (B·L, n)
  /** Token-slots routed to each expert (sums to B·L·k). */
  expertCounts: number[];
}

/** The experts' weights stacked for the device step (SparseMoE.stackedExperts). */
export interface StackedExperts {
  gate: Tensor; // (n, F, H)
  up: Tensor; // (n, F, H)
  down: Tensor; // (n, H, F)
}

export class SparseMoE extends Module {
  readonly router: Linear;
  readonly experts: JambaMLP[];
  /** Built on first use by the device step; `versions` are the weights' versions it copies. */
  private stacked: { versions: string; t: StackedExperts } | null = null;

  constructor(
    hidden: number,
    intermediate: number,
    readonly numExperts: number,
    readonly topK: number,
  ) {
    super();
    this.router = this.child('router', new Linear(hidden, numExperts, false));
    this.experts = this.childList('experts', Array.from({ length: numExperts }, () => new JambaMLP(hidden, intermediate)));
  }

  /**
   * x (B, L, H) → out (B, L, H), the router logits (B·L, n) and the token-slots per expert.
   * Tokens are grouped per expert: route, read the top-k choices back once, then each expert runs
   * one matmul chain over just its tokens (see dispatch). Async because of that read-back; the
   * synchronous stretches run in `seg` (one is made when absent).
   */
  async forward(x: Tensor, segments?: Segments): Promise<MoeOutput> {
    const seg = segments ?? new Segments();
    try {
      const r = seg.run(() => this.route(x));
      const top = await r.topIndices.data();
      const d = seg.run(() => {
        const { out, expertCounts } = this.dispatch(r, top);
        return { out: reshape(out, x.shape), expertCounts };
      });
      seg.drop(r.flat, r.probs, r.topIndices);
      const result = { out: d.out, routerLogits: r.routerLogits, expertCounts: d.expertCounts };
      return segments ? result : seg.finish(result);
    } catch (e) {
      if (!segments) seg.abort();
      throw e;
    }
  }

  /** Router logits, float32 probabilities over all experts and the top-k of each token. Callers wrap this in tidy(). */
  route(x: Tensor): MoeRouting {
    const H = x.shape[x.rank - 1]!;
    const flat = reshape(x, [x.size / H, H]);
    const routerLogits = linear(flat, this.router.weight.value); // (T, n)
    const probs = softmax(routerLogits);
    const { values, indices } = topK(probs, this.topK);
    values.dispose();
    return { flat, routerLogits, probs, topIndices: indices };
  }

  /**
   * Given the top-k choices on the host (T·k, row-major), each expert with tokens gathers its
   * tokens' rows (n_e, H) and runs its SwiGLU on that block; the blocks are concatenated (S = T·k
   * rows, expert by expert), scaled by each token's routing probability p[t, e] (gathered from
   * `probs`, so the router gets its gradient; not renormalised) and added back into their tokens'
   * rows. Experts without tokens are skipped. Returns out (T, H). Callers wrap this in tidy().
   */
  dispatch(r: MoeRouting, top: ArrayLike<number>): { out: Tensor; expertCounts: number[] } {
    const [T] = r.flat.shape as [number, number];
    const n = this.numExperts;
    const k = this.topK;
    const device = r.flat.device as DeviceName;
    const tokensOf: number[][] = this.experts.map(() => []);
    // t ascending, and a token picks an expert at most once: each list is sorted.
    for (let t = 0; t < T; t++) for (let j = 0; j < k; j++) tokensOf[top[t * k + j]!]!.push(t);
    const blocks: Tensor[] = [];
    const slotToken: number[] = []; // (S) the token of each row of the concatenated blocks
    const slotProb: number[] = []; // (S) where its weight sits in probs viewed as (T·n, 1)
    tokensOf.forEach((tokens, e) => {
      if (tokens.length === 0) return;
      const rows = gatherRows(r.flat, new RowIndex(tokens, T, device)); // (n_e, H)
      blocks.push(this.experts[e]!.forward(rows)); // (n_e, H)
      for (const t of tokens) {
        slotToken.push(t);
        slotProb.push(t * n + e);
      }
    });
    const y = blocks.length === 1 ? blocks[0]! : concat(blocks, 0); // (S, H)
    const w = gatherRows(reshape(r.probs, [T * n, 1]), new RowIndex(slotProb, T * n, device)); // (S, 1)
    const out = scatterAddRows(mul(y, w), new RowIndex(slotToken, T, device)); // (T, H)
    return { out, expertCounts: tokensOf.map((l) => l.length) };
  }

  /**
   * The experts' gate, up and down weights stacked (n, F, H), (n, F, H), (n, H, F) for the device
   * step, which picks an expert's rows by its device-side index (WGSL cannot pick a buffer by
   * index). A copy: it costs as much device memory again as the layer's expert weights (3·n·F·H
   * elements in their stored dtype), made once on first use and again only if the weights change
   * (their Parameter versions). Null where the backend cannot stack them (the CPU; or a stack
   * larger than one buffer binding). Not inside a recorded step: the copies would be replayed.
   */
  stackedExperts(): StackedExperts | null {
    const params = (pick: (e: JambaMLP) => Linear) => this.experts.map((e) => pick(e).weight);
    const groups = [params((e) => e.gate_proj), params((e) => e.up_proj), params((e) => e.down_proj)];
    const versions = groups.map((g) => g.map((p) => p.version).join(',')).join(';');
    if (this.stacked?.versions === versions) return this.stacked.t;
    this.releaseStackedExperts();
    const made: Tensor[] = [];
    for (const g of groups) {
      const t = stackWeights(g.map((p) => p.value));
      if (!t) {
        for (const m of made) m.dispose();
        return null;
      }
      made.push(keep(t));
    }
    const [gate, up, down] = made as [Tensor, Tensor, Tensor];
    this.stacked = { versions, t: { gate, up, down } };
    return this.stacked.t;
  }

  /** Frees the stacked copy of the experts' weights (made again when a device step needs it). */
  releaseStackedExperts(): void {
    if (!this.stacked) return;
    const { gate, up, down } = this.stacked.t;
    for (const t of [gate, up, down]) t.dispose();
    this.stacked = null;
  }

  override dispose(): void {
    this.releaseStackedExperts();
    super.dispose();
  }

  /**
   * A few tokens (a decode step) routed on the device, nothing read back: residual + MoE(x) for x,
   * residual (T, H) — the same routing as forward (softmax over all experts, topK, the lower index
   * first on ties, weights p not renormalised). Null where the device has no such step, or while
   * gradients are recorded through it (then use forward). Callers wrap this in tidy().
   */
  forwardStep(x: Tensor, residual: Tensor): Tensor | null {
    if (!x.backend.moeStep) return null;
    // No backward through the device step: while gradients are recorded, forward's path runs.
    if (isRecording() && (shouldRecord(x, residual) || this.namedParameters().some(([, p]) => p.requiresGrad))) return null;
    const st = this.stackedExperts();
    if (!st) return null;
    const routerLogits = linear(x, this.router.weight.value); // (T, n)
    const { values, indices } = topK(softmax(routerLogits), this.topK);
    return moeStep({ x, residual, indices, weights: values, ...st });
  }

  /**
   * The reference form, for tests: every expert runs on every token and the results are summed
   * with a (T, n) weight matrix that is p on the selected experts and 0 elsewhere — exact, but
   * n/k times the FLOPs. x (B, L, H) → out (B, L, H), routerLogits (B·L, n).
   */
  forwardDense(x: Tensor): { out: Tensor; routerLogits: Tensor } {
    const H = x.shape[x.rank - 1]!;
    const T = x.size / H;
    const flat = reshape(x, [T, H]);
    const routerLogits = linear(flat, this.router.weight.value); // (T, n)
    const p = softmax(routerLogits); // float32 throughout
    // weights (T, n) = p ⊙ [expert selected]: differentiable through p, the selection is constant.
    const selected = sum(transpose(selectedOneHot(p, this.topK), [0, 2, 1])); // (T, n), 0/1
    const weights = mul(p, selected);
    let out: Tensor | null = null;
    this.experts.forEach((e, i) => {
      const y = mul(e.forward(flat), slice(weights, 1, i, 1)); // (T, H) · (T, 1)
      out = out ? add(out, y) : y;
    });
    return { out: reshape(out!, x.shape), routerLogits };
  }
}

/**
 * HF's load_balancing_loss_func: router logits of every MoE layer concatenated along tokens
 * (T, n); P = softmax; f[slot, e] = fraction of tokens whose slot-th choice is e (k, n); P̄ = mean P
 * (n); aux = n · Σ f · P̄. With `tokenMask` (1 = real token, 0 = padding; the tokens of one layer,
 * repeated for each layer as the logits are) both means run over real tokens only, as HF's with an
 * attention mask.
 */
export function loadBalancingLoss(routerLogits: Tensor, numExperts: number, k: number, tokenMask: ArrayLike<number> | null = null): Tensor {
  const T = routerLogits.shape[0]!;
  const p = softmax(routerLogits); // (T, n)
  const oneHot = selectedOneHot(p, k); // (T, k, n)
  let f: Tensor;
  let pMean: Tensor;
  if (!tokenMask) {
    f = scale(sumRows(oneHot), 1 / T); // (k, n)
    pMean = scale(sumRows(p), 1 / T); // (n)
  } else {
    if (T % tokenMask.length !== 0) throw new ArgumentError(`loadBalancingLoss: ${T} router rows are not a whole number of layers of ${tokenMask.length} tokens`);
    const m = new Float32Array(T);
    for (let i = 0; i < T; i++) m[i] = tokenMask[i % tokenMask.length]!;
    const real = m.reduce((s, v) => s + v, 0);
    if (real === 0) throw new ArgumentError('loadBalancingLoss: the token mask has no real token');
    const mt = tensor(m, [T, 1], { device: p.device as DeviceName });
    f = scale(sumRows(mul(oneHot, reshape(mt, [T, 1, 1]))), 1 / real);
    pMean = scale(sumRows(mul(p, mt)), 1 / real);
  }
  const total = sum(reshape(mul(f, pMean), [1, k * numExperts])); // (1)
  return reshape(scale(total, numExperts), []);
}

/** Token-slot counts per layer and expert (as JambaOutput.expertCounts) → fractions of each layer's slots. */
export function expertFractionsFromCounts(counts: number[][]): number[][] {
  return counts.map((row) => {
    const total = row.reduce((a, b) => a + b, 0);
    return row.map((c) => (total ? c / total : 0));
  });
}

/**
 * For a trainer's report: given the router logits (T, n) of each MoE layer from a forward
 * (outputRouterLogits), the fraction of that layer's T·k routed token-slots each expert received
 * (top-k of the softmax, as the forward routes). One read-back per layer.
 */
export async function expertFractions(routerLogits: Tensor[], k: number): Promise<number[][]> {
  const counts: number[][] = [];
  for (const logits of routerLogits) {
    const n = logits.shape[logits.rank - 1]!;
    const indices = tidy(() => topK(softmax(logits), k).indices);
    const top = await indices.data();
    indices.dispose();
    const row = new Array<number>(n).fill(0);
    for (const e of top) row[e]!++;
    counts.push(row);
  }
  return expertFractionsFromCounts(counts);
}
