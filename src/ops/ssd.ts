/**
 * Mamba-2's state space layer with a scalar decay per head (the structured state space duality,
 * Dao & Gu 2024). Per head h, with its group g = h / (H/G), a token t updates the state (P, N):
 *
 *   S ← exp(dt_t·A_h) · S + dt_t · x_t ⊗ B_t,g        y_t = S · C_t,g + D_h · x_t
 *
 * Shapes: x (Bt, L, H, P); dt (Bt, L, H), already softplus'd and clamped; A (H) negative;
 * B, C (Bt, L, G, N); D (H); states (Bt, H, P, N).
 *
 * Three forms of the same map, each composed of differentiable ops (so they run on every backend
 * and have gradients through the tape):
 * - ssdSequential: the recurrence token by token — the reference the others are tested against;
 * - ssdChunked: the SSD algorithm — within chunks of T tokens the scan is a masked matrix product
 *   (C·Bᵀ ∘ decay)·(x·dt), between chunks a short recurrence over the chunk-final states; where the
 *   backend has a fused forward (WebGPU: kernels/ssd.ts; the CPU: the recurrence on its WebAssembly
 *   kernels, wasm/assembly/ssd-scan.ts), that runs — while a gradient is recorded, only with the
 *   backend's fused backward too (kernels/ssd-backward.ts; wasm/assembly/ssd-scan-backward.ts), as
 *   one autograd node;
 * - ssdStep: one token (decoding).
 */
import { record, saveForBackward, shouldRecord } from '../autograd/tape.js';
import type { SsdForwardInputs } from '../backend/backend.js';
import { envSwitch } from '../env.js';
import { ArgumentError } from '../errors.js';
import type { DeviceName } from '../backend/registry.js';
import type { Tensor } from '../tensor/tensor.js';
import { formatShape } from '../tensor/shape.js';
import { keep, tidy } from '../tensor/memory.js';
import { sameBackend } from './check.js';
import { tensor, zeros } from './create.js';
import { add, exp, mul } from './elementwise.js';
import { matmul } from './matmul.js';
import { concat, reshape, slice, transpose } from './shape.js';

export interface SsdOptions {
  /** (H): the skip term D_h · x. */
  D?: Tensor | null;
  /** (Bt, H, P, N): the state before the first token; zeros when absent. */
  initialState?: Tensor | null;
}

export interface SsdResult {
  out: Tensor; // (Bt, L, H, P)
  lastState: Tensor; // (Bt, H, P, N)
}

interface SsdDims {
  Bt: number;
  L: number;
  H: number;
  P: number;
  G: number;
  N: number;
}

function checkShapes(op: string, x: Tensor, dt: Tensor, A: Tensor, B: Tensor, C: Tensor, o: SsdOptions): SsdDims {
  sameBackend(op, x, dt, A, B, C, o.D, o.initialState);
  if (x.rank !== 4) throw new ArgumentError(`${op}: x must be (batch, L, heads, head_dim), got ${formatShape(x.shape)}`);
  const [Bt, L, H, P] = x.shape as [number, number, number, number];
  if (B.rank !== 4) throw new ArgumentError(`${op}: B must be (batch, L, groups, state), got ${formatShape(B.shape)}`);
  const [, , G, N] = B.shape as [number, number, number, number];
  const want = (name: string, t: Tensor, shape: number[]) => {
    if (t.rank !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new ArgumentError(`${op}: ${name} must be ${formatShape(shape)}, got ${formatShape(t.shape)}`);
    }
  };
  want('dt', dt, [Bt, L, H]);
  want('A', A, [H]);
  want('B', B, [Bt, L, G, N]);
  want('C', C, [Bt, L, G, N]);
  if (o.D) want('D', o.D, [H]);
  if (o.initialState) want('initialState', o.initialState, [Bt, H, P, N]);
  if (G < 1 || H % G !== 0) throw new ArgumentError(`${op}: the ${G} groups of B and C must divide the ${H} heads`);
  return { Bt, L, H, P, G, N };
}

/** D_h · x added to y, both (Bt, L, H, P). */
function withSkip(y: Tensor, x: Tensor, D: Tensor | null | undefined): Tensor {
  return D ? add(y, mul(x, reshape(D, [D.shape[0]!, 1]))) : y;
}

/** One token: x (Bt, H, P), dt (Bt, H), B and C (Bt, G, N), state (Bt, H, P, N) → y (Bt, H, P), new state. */
export function ssdStep(state: Tensor, x: Tensor, dt: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor | null = null): { out: Tensor; state: Tensor } {
  if (x.rank !== 3 || dt.rank !== 2 || B.rank !== 3 || C.rank !== 3) {
    throw new ArgumentError(`ssdStep: expected x (batch, heads, head_dim), dt (batch, heads), B and C (batch, groups, state); got ${[x, dt, B, C].map((t) => formatShape(t.shape)).join(', ')}`);
  }
  const [Bt, H, P] = x.shape as [number, number, number];
  const N = B.shape[2]!;
  // The batch first, by name: the views below would otherwise fail with a reshape's message.
  for (const [name, t] of [['dt', dt], ['B', B], ['C', C]] as const) {
    if (t.shape[0] !== Bt) throw new ArgumentError(`ssdStep: ${name} has batch ${t.shape[0]}, x has ${Bt} (${name} ${formatShape(t.shape)}, x ${formatShape(x.shape)})`);
  }
  return tidy(() => {
    checkShapes('ssdStep', reshape(x, [Bt, 1, H, P]), reshape(dt, [Bt, 1, dt.shape[1]!]), A, reshape(B, [Bt, 1, B.shape[1]!, N]), reshape(C, [Bt, 1, C.shape[1]!, C.shape[2]!]), { D, initialState: state });
    // Heads grouped as (G, H/G) so that each group's B and C broadcast over its heads: no copies.
    const G = B.shape[1]!;
    const rows = (H / G) * P;
    const decay = reshape(exp(mul(dt, A)), [Bt, H, 1, 1]);
    const xdt = reshape(mul(x, reshape(dt, [Bt, H, 1])), [Bt, G, rows, 1]);
    const written = reshape(mul(xdt, reshape(B, [Bt, G, 1, N])), [Bt, H, P, N]);
    const next = add(mul(state, decay), written); // (Bt, H, P, N)
    const y = reshape(matmul(reshape(next, [Bt, G, rows, N]), reshape(C, [Bt, G, N, 1])), [Bt, H, P]);
    const out = D ? add(y, mul(x, reshape(D, [H, 1]))) : y;
    return { out, state: next };
  });
}

/** The recurrence token by token (L steps of ssdStep): the reference for ssdChunked. */
export function ssdSequential(x: Tensor, dt: Tensor, A: Tensor, B: Tensor, C: Tensor, o: SsdOptions = {}): SsdResult {
  const { Bt, L, H, P, G, N } = checkShapes('ssdSequential', x, dt, A, B, C, o);
  return tidy(() => {
    let state = o.initialState ?? zeros([Bt, H, P, N], { device: x.device as DeviceName });
    const ys: Tensor[] = [];
    for (let t = 0; t < L; t++) {
      const at = (v: Tensor, shape: number[]) => reshape(slice(v, 1, t, 1), shape);
      const r = ssdStep(state, at(x, [Bt, H, P]), at(dt, [Bt, H]), A, at(B, [Bt, G, N]), at(C, [Bt, G, N]), o.D ?? null);
      ys.push(reshape(r.out, [Bt, 1, H, P]));
      state = r.state;
    }
    const out = L ? concat(ys, 1) : zeros([Bt, 0, H, P], { device: x.device as DeviceName });
    return { out, lastState: state };
  });
}

/** Constant (n, n) masks: `lower` 1 where j ≤ i, `strict` 1 where j < i, `above` −1e30 where j > i. */
function triangles(n: number, device: DeviceName): { lower: Tensor; strict: Tensor; above: Tensor } {
  const lower = new Float32Array(n * n);
  const strict = new Float32Array(n * n);
  const above = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      lower[i * n + j] = j <= i ? 1 : 0;
      strict[i * n + j] = j < i ? 1 : 0;
      // Added before exp: exp(−1e30) = 0 keeps j > i out, with a zero gradient (no inf·0).
      above[i * n + j] = j > i ? -1e30 : 0;
    }
  }
  return { lower: tensor(lower, [n, n], { device }), strict: tensor(strict, [n, n], { device }), above: tensor(above, [n, n], { device }) };
}

/**
 * exp(segsum(a)) for a (..., n): the (..., n, n) matrix with entry (i, j) = exp(a_{j+1} + … + a_i)
 * for j ≤ i and 0 above the diagonal — the decay from position j to position i. Each entry is a
 * sum of the a's themselves, not a difference of cumulative sums, so no precision is lost when the
 * cumulative sums grow large (HF's segment_sum does the same).
 */
function decayMatrix(a: Tensor, masks: ReturnType<typeof triangles>): Tensor {
  const spread = mul(reshape(a, [...a.shape, 1]), masks.strict); // [k, j] = a_k for k > j, else 0
  const seg = matmul(masks.lower, spread); // [i, j] = Σ_{j<k≤i} a_k
  return exp(add(seg, masks.above));
}

/**
 * The chunked SSD algorithm (the minimal form of the Mamba-2 paper, as HF's torch path): the
 * sequence is cut into chunks of `chunkSize` tokens (the last one zero-padded: dt = 0 there, so
 * padding neither decays nor writes the state), and
 *   1. within a chunk, y = ((C·Bᵀ) ∘ decay) · (x·dt)            — masked matmuls;
 *   2. each chunk's contribution to the state at its end, (x·dt ∘ decay-to-end)ᵀ · B;
 *   3. states at chunk starts: a recurrence over the chunks, as one (chunks+1)² matrix product;
 *   4. each position reads its chunk's start state: y += exp(cumsum a) · C · Sᵀ.
 */
export function ssdChunked(x: Tensor, dt: Tensor, A: Tensor, B: Tensor, C: Tensor, chunkSize: number, o: SsdOptions = {}): SsdResult {
  const { Bt, L, H, P, G, N } = checkShapes('ssdChunked', x, dt, A, B, C, o);
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) throw new ArgumentError(`ssdChunked: chunkSize must be an integer >= 1, got ${chunkSize}`);
  const device = x.device as DeviceName;
  if (L === 0) {
    return tidy(() => ({ out: zeros([Bt, 0, H, P], { device }), lastState: o.initialState ? add(o.initialState, zeros([1], { device })) : zeros([Bt, H, P, N], { device }) }));
  }
  // A chunk longer than the sequence only adds padding.
  const T = Math.min(chunkSize, L);
  const fused = fusedSsdChunked({ x, dt, A, B, C, D: o.D ?? null, initialState: o.initialState ?? null, chunk: T });
  if (fused) return fused;
  const c = Math.ceil(L / T);
  const Lp = c * T;
  const R = H / G;
  return tidy(() => {
    const pad = (t: Tensor) => (Lp === L ? t : concat([t, zeros([t.shape[0]!, Lp - L, ...t.shape.slice(2)], { device })], 1));
    // Chunked with time after the heads, and heads split as (G, R): each group's B and C then
    // broadcast over its R heads (no per-head copies, and C·Bᵀ once per group).
    const xg = transpose(reshape(pad(x), [Bt, c, T, G, R, P]), [0, 1, 3, 4, 2, 5]); // (Bt, c, G, R, T, P)
    const dtg = transpose(reshape(pad(dt), [Bt, c, T, G, R]), [0, 1, 3, 4, 2]); // (Bt, c, G, R, T)
    const Bg = transpose(reshape(pad(B), [Bt, c, T, G, N]), [0, 1, 3, 2, 4]); // (Bt, c, G, T, N)
    const Cg = transpose(reshape(pad(C), [Bt, c, T, G, N]), [0, 1, 3, 2, 4]);
    const a = mul(dtg, reshape(A, [G, R, 1])); // dt·A, (Bt, c, G, R, T)
    const xdt = mul(xg, reshape(dtg, [Bt, c, G, R, T, 1]));
    const masks = triangles(T, device);

    // 1. Within each chunk.
    const decay = decayMatrix(a, masks); // (Bt, c, G, R, T, T)
    const scores = reshape(matmul(Cg, Bg, { transB: true }), [Bt, c, G, 1, T, T]);
    const yDiag = matmul(mul(scores, decay), xdt); // (Bt, c, G, R, T, P)

    // 2. Each chunk's state at its end, from its own tokens: decay from t to the chunk's last token.
    const toEnd = reshape(slice(decay, 4, T - 1, 1), [Bt, c, G, R, T, 1]);
    const weighted = reshape(transpose(mul(xdt, toEnd), [0, 1, 2, 4, 3, 5]), [Bt, c, G, T, R * P]);
    const chunkStates = reshape(matmul(weighted, Bg, { transA: true }), [Bt, c, H, P, N]);

    // 3. States at chunk starts. cumA[t] = a_0 + … + a_t within the chunk; its last entry is the
    // chunk's total decay exponent.
    const cumA = reshape(matmul(reshape(a, [Bt * c * H, T]), masks.lower, { transB: true }), [Bt, c, G, R, T]);
    const totals = transpose(reshape(slice(cumA, 4, T - 1, 1), [Bt, c, H]), [0, 2, 1]); // (Bt, H, c)
    const chunkDecay = decayMatrix(concat([zeros([Bt, H, 1], { device }), totals], 2), triangles(c + 1, device)); // (Bt, H, c+1, c+1)
    const first = o.initialState ? reshape(o.initialState, [Bt, 1, H, P, N]) : zeros([Bt, 1, H, P, N], { device });
    const stacked = reshape(transpose(concat([first, chunkStates], 1), [0, 2, 1, 3, 4]), [Bt, H, c + 1, P * N]);
    const states = matmul(chunkDecay, stacked); // (Bt, H, c+1, P·N): [k] = state before chunk k; [c] = the last
    const starts = transpose(reshape(slice(states, 2, 0, c), [Bt, G, R, c, P, N]), [0, 3, 1, 2, 4, 5]); // (Bt, c, G, R, P, N)
    const lastState = reshape(slice(states, 2, c, 1), [Bt, H, P, N]);

    // 4. What each position reads of its chunk's start state.
    const read = matmul(Cg, reshape(starts, [Bt, c, G, R * P, N]), { transB: true }); // (Bt, c, G, T, R·P)
    const yOff = mul(transpose(reshape(read, [Bt, c, G, T, R, P]), [0, 1, 2, 4, 3, 5]), reshape(exp(cumA), [Bt, c, G, R, T, 1]));

    const y = reshape(transpose(add(yDiag, yOff), [0, 1, 4, 2, 3, 5]), [Bt, Lp, H, P]);
    const out = withSkip(Lp === L ? y : slice(y, 1, 0, L), x, o.D);
    return { out, lastState };
  });
}

/**
 * The backend's fused chunked SSD, or null where it has none or it does not take the inputs.
 * Without a recorded gradient: the fused forward. With one: the fused forward keeping what the fused
 * backward needs, recorded as one node — only where the backend has both, and unless
 * MAMBA_TS_SSD_BACKWARD=composed (the composed ops then run, for comparison).
 */
function fusedSsdChunked(i: SsdForwardInputs): SsdResult | null {
  const backend = i.x.backend;
  if (!backend.ssdChunkedForward) return null;
  const inputs = [i.x, i.dt, i.A, i.B, i.C, i.D, i.initialState];
  if (!shouldRecord(...inputs)) return backend.ssdChunkedForward(i);
  if (!backend.ssdChunkedBackward || envSwitch('MAMBA_TS_SSD_BACKWARD') === 'composed') return null;
  const r = backend.ssdChunkedForward({ ...i, keep: true });
  if (!r) return null;
  if (!r.kept) {
    r.out.dispose();
    r.lastState.dispose();
    throw new Error(`ssdChunked: the ${backend.name} backend's fused forward kept nothing for its backward`);
  }
  // The node owns what the forward kept and references to the inputs and outputs.
  const cum = r.kept.cum ? keep(r.kept.cum) : null;
  const states = r.kept.states ? keep(r.kept.states) : null;
  const saved = inputs.map((t) => (t ? saveForBackward(t) : null));
  const [sx, sdt, sA, sB, sC, sD, sh0] = saved;
  const out = saveForBackward(r.out);
  const lastState = saveForBackward(r.lastState);
  const held = [...saved.filter((t): t is Tensor => t !== null), out, lastState, ...[cum, states].filter((t): t is Tensor => t !== null)];
  record('ssdChunked', inputs, [r.out, r.lastState], ([gOut, gLast]) => {
    const gradOut = gOut ?? zeros(r.out.shape, { device: i.x.device as DeviceName });
    const g = backend.ssdChunkedBackward!(
      { x: sx!, dt: sdt!, A: sA!, B: sB!, C: sC!, D: sD ?? null, initialState: sh0 ?? null, chunk: i.chunk },
      { cum, states, out, lastState },
      gradOut,
      gLast ?? null,
    );
    if (!gOut) gradOut.dispose();
    return [g.dx, g.ddt, g.dA, g.dB, g.dC, g.dD, g.dInitialState];
  }, held);
  return { out: r.out, lastState: r.lastState };
}
