/**
 * Jamba's feed-forwards (HF `JambaMLP`, `JambaSparseMoeBlock`) and the Switch-style
 * load-balancing loss (HF `load_balancing_loss_func`, copied from Mixtral).
 *
 * Routing (jamba.md §2.4): p = softmax(router(x)) over all experts, keep the top k per token,
 * and weight each kept expert by its p — NOT renormalised to sum to 1 (Mixtral does; Jamba doesn't).
 */
import { add, embedding, linear, mul, reshape, scale, silu, slice, softmax, sum, tensor, topK, transpose } from '../ops/index.js';
import type { DeviceName } from '../backend/registry.js';
import type { Tensor } from '../tensor/tensor.js';
import { Linear } from './layers.js';
import { Module } from './module.js';

/** SwiGLU: down(silu(gate(x)) · up(x)), no biases. */
export class JambaMLP extends Module {
  readonly gate_proj: Linear;
  readonly up_proj: Linear;
  readonly down_proj: Linear;
  constructor(hidden: number, intermediate: number) {
    super();
    this.gate_proj = this.child('gate_proj', new Linear(hidden, intermediate, false));
    this.up_proj = this.child('up_proj', new Linear(hidden, intermediate, false));
    this.down_proj = this.child('down_proj', new Linear(intermediate, hidden, false));
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

export class SparseMoE extends Module {
  readonly router: Linear;
  readonly experts: JambaMLP[];

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
   * x (B, L, H) → out (B, L, H) and routerLogits (B·L, n). Callers wrap this in tidy().
   *
   * Reference form: every expert runs on every token and the results are summed with a
   * (tokens, experts) weight matrix that is p on the selected experts and 0 elsewhere — exact, but
   * n/k times the FLOPs. The next step is grouping tokens per expert (gather, run, scatter-add).
   */
  forward(x: Tensor): { out: Tensor; routerLogits: Tensor } {
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
 * HF's load_balancing_loss_func without an attention mask: router logits of every MoE layer
 * concatenated along tokens (T, n); P = softmax; f[slot, e] = fraction of tokens whose slot-th
 * choice is e (k, n); P̄ = mean P (n); aux = n · Σ f · P̄.
 */
export function loadBalancingLoss(routerLogits: Tensor, numExperts: number, k: number): Tensor {
  const T = routerLogits.shape[0]!;
  const p = softmax(routerLogits); // (T, n)
  const f = scale(sumRows(selectedOneHot(p, k)), 1 / T); // (k, n)
  const pMean = scale(sumRows(p), 1 / T); // (n)
  const total = sum(reshape(mul(f, pMean), [1, k * numExperts])); // (1)
  return reshape(scale(total, numExperts), []);
}
