/**
 * The contract every device implements: memory (alloc/upload/read/free) and one entry per kernel.
 * Kernels take contiguous input tensors whose shapes the ops layer (src/ops/) has already checked,
 * and return new tensors on the same backend. `cpu/` is the readable reference every other backend
 * is tested against.
 */
import type { DataArray, DType } from '../tensor/dtype.js';
import type { Shape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';

/** A backend's buffer; opaque outside the backend that made it. */
export interface Storage {
  readonly byteLength: number;
}

export type UnaryOp =
  | 'neg'
  | 'exp'
  | 'log'
  | 'sqrt'
  | 'rsqrt'
  | 'abs'
  | 'relu'
  | 'sigmoid'
  | 'tanh'
  | 'silu' // x * sigmoid(x)
  | 'softplus' // x > 20 ? x : log1p(exp(x)), as the Mamba kernels
  | 'gelu'; // tanh approximation, as HF "gelu_pytorch_tanh"

/** siluGrad: a · silu'(b) (silu's backward in one pass: a the output's gradient, b silu's input). */
export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'max' | 'min' | 'pow' | 'siluGrad';

export interface MatmulOptions {
  transA: boolean;
  transB: boolean;
}

export interface ConvOptions {
  /** Apply silu to the output (the Mamba conv is always followed by silu). */
  silu: boolean;
}

/** Inputs of the selective scan; layout is channels-last. */
export interface ScanInputs {
  u: Tensor; // (B, L, D)
  delta: Tensor; // (B, L, D), before bias and softplus
  A: Tensor; // (D, N)
  B: Tensor; // (B, L, N)
  C: Tensor; // (B, L, N)
  D: Tensor | null; // (D)
  z: Tensor | null; // (B, L, D)
  deltaBias: Tensor | null; // (D)
  initialState: Tensor | null; // (B, D, N)
}

export interface ScanOptions {
  deltaSoftplus: boolean;
}

/** One decode step of the selective SSM; all per-token tensors have no L axis. */
export interface StateUpdateInputs {
  state: Tensor; // (B, D, N)
  x: Tensor; // (B, D)
  dt: Tensor; // (B, D)
  A: Tensor; // (D, N)
  B: Tensor; // (B, N)
  C: Tensor; // (B, N)
  D: Tensor | null; // (D)
  z: Tensor | null; // (B, D)
  dtBias: Tensor | null; // (D)
  /**
   * Update `state` itself and return it as the new state (a replayed decode step keeps its state
   * buffers); a backend may ignore this and return a new tensor (the op then copies it back).
   */
  inPlace?: boolean;
}

/** One Mamba layer's decode step, h + mixer(RMSNorm(h)), for a fused implementation. */
export interface MambaBlockStepInputs {
  h: Tensor; // (B, H) residual stream
  normWeight: Tensor; // (H)
  eps: number;
  inProj: Tensor; // (2E, H)
  inProjBias: Tensor | null;
  convWeight: Tensor; // (E, K)
  convBias: Tensor | null;
  convState: Tensor; // (B, E, K-1)
  xProj: Tensor; // (R + 2N, E)
  dtProj: Tensor; // (E, R)
  dtProjBias: Tensor; // (E)
  A: Tensor; // (E, N) = -exp(A_log)
  D: Tensor; // (E)
  outProj: Tensor; // (H, E)
  outProjBias: Tensor | null;
  ssmState: Tensor; // (B, E, N)
  /**
   * Where to write the new states (same shapes, other buffers than the inputs'), so that a decode
   * loop alternates between two fixed buffers per layer and its launches keep hitting the cached
   * bind groups; fresh tensors when absent.
   */
  convStateOut?: Tensor;
  ssmStateOut?: Tensor;
  /**
   * Jamba's mixer: RMSNorms (weights (R), (N), (N), one eps) on x_proj's output segments Δ, B and
   * C before they are used. Absent: Mamba-1.
   */
  innerNorms?: { dt: Tensor; b: Tensor; c: Tensor; eps: number };
  /**
   * Write the new states over convState and ssmState themselves (returned as them), so that a
   * replayed step's state buffers stay fixed without copies; not with convStateOut / ssmStateOut.
   */
  inPlace?: boolean;
}

/** What of a fused Mamba layer step's inputs is the layer's parameters (see Backend.prepareMambaBlockStep). */
export type MambaBlockStepWeights = Omit<MambaBlockStepInputs, 'h' | 'convState' | 'ssmState' | 'convStateOut' | 'ssmStateOut' | 'inPlace'>;

/**
 * Causal grouped-query attention (ops/attention.ts states the contract). The query heads that
 * share KV head j are j·G … j·G + G − 1 (HF's repeat_kv).
 */
export interface AttentionInputs {
  q: Tensor; // (B, Lq, H, hd), the q projection's own layout
  k: Tensor; // (B, Hkv, cap, hd): keys [0, keyLength) are used, the rest is unfilled capacity
  v: Tensor; // (B, Hkv, cap, hd)
  keyLength: number; // Lk >= Lq; query i sits at position Lk − Lq + i
  keyMask: Tensor | null; // (B, Lk) f32: 1 = real token, 0 = padding
}

/**
 * One decode step's attention with its position on the device (a replayed step's launches never
 * change): the query of each row sits at position length[0], after the keys cached before it.
 */
export interface AttentionAtInputs {
  q: Tensor; // (B, 1, H, hd)
  k: Tensor; // (B, Hkv, cap, hd), keys [0, length[0] + 1) filled (this step's key included)
  v: Tensor; // (B, Hkv, cap, hd)
  length: Tensor; // int32 (1): the keys cached before this step
  keyMask: Tensor | null; // (B, cap) f32: 1 = real token, 0 = padding
}

/**
 * A sparse MoE feed-forward for a few tokens, routed on the device (nn/moe.ts states the rule):
 * out[t] = residual[t] + Σ_j weights[t, j] · expert_{indices[t, j]}(x[t]), expert e's SwiGLU being
 * down[e] · (silu(gate[e] · x) ⊙ up[e] · x).
 */
export interface MoeStepInputs {
  x: Tensor; // (T, H) the normed tokens
  residual: Tensor; // (T, H)
  indices: Tensor; // (T, k) int32, the chosen experts
  weights: Tensor; // (T, k) f32, their routing probabilities
  gate: Tensor; // (n, F, H) the experts' gate_proj weights, stacked
  up: Tensor; // (n, F, H)
  down: Tensor; // (n, H, F)
}

/** Gradients of the selective scan's inputs (null where the input was absent). */
export interface ScanGradients {
  du: Tensor;
  ddelta: Tensor;
  dA: Tensor;
  dB: Tensor;
  dC: Tensor;
  dD: Tensor | null;
  dz: Tensor | null;
  ddeltaBias: Tensor | null;
  dInitialState: Tensor | null;
}

/** The warpers of a draw on the device (ops/sample-tokens.ts), already checked; each off at its neutral value. */
export interface SampleTokensScalars {
  temperature: number; // > 0; 1 = off
  topK: number; // integer >= 0; 0 = off
  topP: number; // (0, 1]; 1 = off
  minP: number; // [0, 1]; 0 = off
}

/**
 * Each row's own warpers (ops/sample-tokens.ts's SampleTokensRows builds them, checked), held
 * twice: exactly on the host, for the CPU reference, and as a table on the device, which a kernel
 * reads (so that a recorded launch reads the rows' current options at each replay).
 */
export interface SampleTokensPerRow {
  /** Row b's warpers; null: the row takes the argmax of its logits (no draw: its generator stays). */
  readonly rows: readonly (SampleTokensScalars | null)[];
  /**
   * (B, 4) float32 on the logits' device, row b = [temperature (0: the argmax), topK (capped at
   * 2^24), 1 − topP rounded to float32 (0: top-p off), minP].
   */
  readonly table: Tensor;
}

/** The scalars of one AdamW step (Backend.adamwUpdate). */
export interface AdamWScalars {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** 1 − β₁^step and 1 − β₂^step, the bias corrections. */
  correction1: number;
  correction2: number;
  /** 1 − lr·λ, or 1 where the parameter has no weight decay. */
  decayFactor: number;
}

/**
 * What a fused AdamW (Backend.createFusedAdamW) updates: parameters of these sizes, in this order,
 * with AdamW's constants. Each parameter may or may not be decayed (decayFactor applies to it).
 */
export interface FusedAdamWLayout {
  sizes: readonly number[];
  decay: readonly boolean[];
  beta1: number;
  beta2: number;
  eps: number;
}

/**
 * AdamW over all parameters at once, with the gradient-norm clip computed on the device: the
 * moments live inside it, the step's scalars (learning rate, bias corrections, decay factor) are a
 * device input written before each step, so that `apply` (device work only, no upload, no
 * readback) can be recorded and replayed (Backend.recordWork). The arithmetic is the
 * per-parameter update's (adamwUpdate, or the one-op-per-term update where the backend has none).
 */
export interface FusedAdamW {
  /** Host side, before `apply`: this step's scalars (their decayFactor is the decayed parameters'). */
  setScalars(h: AdamWScalars): void;
  /**
   * Device work: Σ g² over the gradients present, norm = √Σ; where maxNorm is finite and norm >
   * maxNorm the gradients count scaled by maxNorm / (norm + 1e-6); then one AdamW update of every
   * parameter whose gradient is present (null: that parameter and its moments stay). Nothing is
   * updated when the norm is not finite. Parameters are updated in place; `gradNorm` gets the norm.
   */
  apply(params: readonly Tensor[], grads: readonly (Tensor | null)[], maxNorm: number): void;
  /** (1) float32: the norm of the last apply's gradients, before clipping. */
  readonly gradNorm: Tensor;
  /** Copies of parameter i's moments (new tensors the caller owns). */
  readMoments(i: number): { m: Tensor; v: Tensor };
  /** Sets parameter i's moments (copied; the tensors stay the caller's). */
  writeMoments(i: number, m: Tensor, v: Tensor): void;
  dispose(): void;
}

export interface Backend {
  readonly name: 'cpu' | 'webgpu';
  /** WebGPU: the adapter, in one line (vendor, architecture, device, description). */
  readonly adapterInfo?: string;
  /** WebGPU: the adapter emulates a GPU on the CPU (llvmpipe, SwiftShader, ...). */
  readonly softwareAdapter?: boolean;

  // ---- memory
  /** A zero-filled buffer for `size` elements. */
  alloc(dtype: DType, size: number): Storage;
  upload(data: DataArray): Storage;
  /**
   * bf16/f16 bits kept packed (backends that unpack halves inside kernels only). Such a tensor
   * reaches matmul (as a transposed b), embedding (as the table), cast to f32 and read.
   */
  uploadHalf?(bits: Uint16Array): Storage;
  /** The values, as float32 for f32 and half dtypes, int32 for i32. */
  read(s: Storage, dtype: DType, size: number): Promise<DataArray>;
  readSync?(s: Storage, dtype: DType, size: number): DataArray;
  free(s: Storage): void;
  /** Bytes currently held in live buffers. */
  memoryBytes(): number;

  // ---- elementwise
  unary(op: UnaryOp, x: Tensor): Tensor;
  /** NumPy broadcasting; `outShape` is the broadcast shape. */
  binary(op: BinaryOp, a: Tensor, b: Tensor, outShape: Shape): Tensor;
  /** a * x + b elementwise, with scalars a and b. */
  affine(x: Tensor, a: number, b: number): Tensor;
  cast(x: Tensor, dtype: DType): Tensor;

  // ---- linear algebra
  /**
   * Batched matmul of (..., M, K) by (..., K, N) (after transposes); batch dims broadcast. With
   * `uploadHalf`, b may be bf16/f16 when it is a transposed weight (transB, the Linear layout).
   */
  matmul(a: Tensor, b: Tensor, outShape: Shape, o: MatmulOptions): Tensor;

  // ---- shape
  /** Copies x[..., start:start+length, ...] along `axis`. */
  slice(x: Tensor, axis: number, start: number, length: number): Tensor;
  concat(xs: Tensor[], axis: number): Tensor;
  /** Permutes axes (a copy). */
  transpose(x: Tensor, perm: readonly number[]): Tensor;
  /** In place: dst[..., start:start+src.shape[axis], ...] = src (same rank, other axes equal). */
  writeSlice(dst: Tensor, src: Tensor, axis: number, start: number): void;
  /** Reverses the order along `axis` (a copy): y[..., i, ...] = x[..., n-1-i, ...]. */
  flip(x: Tensor, axis: number): Tensor;

  // ---- reductions (last axis)
  sumLastAxis(x: Tensor): Tensor;
  maxLastAxis(x: Tensor): Tensor;
  softmax(x: Tensor): Tensor;
  /** int32 index of the first maximum. */
  argmax(x: Tensor): Tensor;
  /** The k largest values (descending) and their int32 indices. */
  topK(x: Tensor, k: number): { values: Tensor; indices: Tensor };

  // ---- layers
  /** x * rsqrt(mean(x^2, -1) + eps) * weight. */
  rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor;
  /** Rows of `table` (V, H) picked by int32 `ids` (any shape) -> (...ids.shape, H); ids pre-checked. */
  embedding(ids: Tensor, table: Tensor): Tensor;
  /**
   * Depthwise causal conv over L: x (B, L, D), weight (D, K), bias (D) | null, state (B, D, K-1)
   * holding the K-1 inputs before x (zeros at the start). Returns the output and the new state.
   */
  causalConv1d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | null,
    state: Tensor | null,
    o: ConvOptions,
  ): { out: Tensor; state: Tensor };
  /**
   * out[r, :] = Σ_{j in [offsets[r], offsets[r+1])} src[order[j], :] for src (n, H), int32 order (n)
   * and offsets (rows + 1) → (rows, H): a row scatter-add given its inverse index, summed in that
   * order (deterministic).
   */
  scatterAddRows(src: Tensor, order: Tensor, offsets: Tensor): Tensor;
  /**
   * Depthwise 2-D conv, channels-last, stride 1, 'same' zero padding (K-1)/2: x (B, H, W, C),
   * weight (C, K, K) with K odd, bias (C) | null → (B, H, W, C). See cpu/depthwise-conv2d.ts.
   */
  depthwiseConv2d(x: Tensor, weight: Tensor, bias: Tensor | null): Tensor;
  /** Optional (training): its backward from the output gradient gOut (B, H, W, C). */
  depthwiseConv2dBackward?(x: Tensor, weight: Tensor, bias: Tensor | null, gOut: Tensor): { dx: Tensor; dw: Tensor; dbias: Tensor | null };
  /** Optional (training): per-row cross-entropy of logits (R, V) against int32 labels (R). */
  crossEntropy?(logits: Tensor, labels: Tensor, ignoreIndex: number): Tensor;
  crossEntropyBackward?(logits: Tensor, labels: Tensor, ignoreIndex: number, g: Tensor): Tensor;
  /** Optional (training): the embedding's backward, rows of gOut added into a (V, H) gradient. */
  embeddingBackward?(ids: Tensor, gOut: Tensor, V: number): Tensor;
  /** Optional: the causal conv's backward, from the gradients of its output and new state. */
  causalConv1dBackward?(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | null,
    state: Tensor | null,
    o: ConvOptions,
    gOut: Tensor,
    gState: Tensor | null,
  ): { dx: Tensor; dw: Tensor; dbias: Tensor | null; dstate: Tensor | null };
  /** Fused selective scan (Mamba S6), returning the output (B, L, D) and the last state (B, D, N). */
  selectiveScan(i: ScanInputs, o: ScanOptions): { out: Tensor; lastState: Tensor };
  /**
   * Optional: the scan's backward, from the gradients of its output and (if it reached the loss)
   * of its last state.
   */
  selectiveScanBackward?(i: ScanInputs, o: ScanOptions, gOut: Tensor, gLast: Tensor | null): ScanGradients;
  /** Causal GQA, softmax(q·kᵀ/√hd + mask)·v per head → (B, Lq, H, hd); see AttentionInputs. */
  attention(i: AttentionInputs): Tensor;
  /**
   * Rotary position embedding (ops/rope.ts states the contract): x (B, L, heads, hd) f32, int32
   * positions (B, L), invFreq (hd / 2) f32 → like x; `inverse` rotates by the negative angles.
   */
  rope(x: Tensor, positions: Tensor, invFreq: Tensor, inverse: boolean): Tensor;
  /** Optional: attention for one new token per row at a position held on the device (see AttentionAtInputs). */
  attentionAt?(i: AttentionAtInputs): Tensor;
  /** Optional, with attentionAt: whether it takes these dimensions (e.g. fits the workgroup memory). */
  attentionAtFits?(batch: number, heads: number, kvHeads: number, headDim: number): boolean;
  /**
   * Optional: writes one token's keys and values (B, Hkv, 1, hd) into a KV cache's buffers
   * kCache, vCache (B, Hkv, cap, hd) at position length[0] (int32 (1) on the device).
   */
  appendKvAt?(kCache: Tensor, vCache: Tensor, k: Tensor, v: Tensor, length: Tensor): void;
  /**
   * Optional: a new tensor (n, ...shape) holding the n same-shape, same-dtype tensors `xs` (which
   * may be bf16/f16 weights); null when it would not fit one buffer binding.
   */
  stack?(xs: readonly Tensor[]): Tensor | null;
  /** Optional: a sparse MoE step routed on the device (see MoeStepInputs); null when it does not take these inputs. */
  moeStep?(i: MoeStepInputs): Tensor | null;
  /** One recurrent step: returns y (B, D) and the new state (B, D, N). */
  selectiveStateUpdate(i: StateUpdateInputs, o: ScanOptions): { out: Tensor; state: Tensor };
  /**
   * Optional: a whole Mamba layer's decode step in a few launches (where launches dominate, as on
   * GPUs). Returns null when it does not handle these inputs (e.g. too many rows).
   */
  mambaBlockStep?(i: MambaBlockStepInputs): { out: Tensor; convState: Tensor; ssmState: Tensor } | null;
  /**
   * Optional: builds now what mambaBlockStep builds from these parameters on first use (WebGPU:
   * its packs of small parameters), so that a step recorded for replay afterwards does not record
   * building them (its replays would copy the parameters again every token).
   */
  prepareMambaBlockStep?(w: MambaBlockStepWeights): void;
  /**
   * Optional: weight (N, H) · RMSNorm(x (B, H)) in one launch (a decode step's final norm and LM
   * head). Returns null when it does not handle these inputs.
   */
  rmsNormLinear?(x: Tensor, normWeight: Tensor, eps: number, weight: Tensor): Tensor | null;
  /**
   * Optional: RMSNorm's backward in one pass over the rows, for y = x · r · w with
   * r = rsqrt(mean(x², -1) + eps): dx = r·(g·w) − x·r³·mean(g·w·x), dw = Σ_rows g·x·r. Null where it
   * does not handle these inputs (ops/norm.ts then composes it from elementwise ops).
   */
  rmsNormBackward?(x: Tensor, weight: Tensor, eps: number, g: Tensor): { dx: Tensor; dw: Tensor } | null;
  /**
   * Optional: one token per row of logits (B, V) drawn on the device after HF's warpers
   * (ops/sample-tokens.ts states the contract) → int32 (B, 1). rngState (B, 4) int32 holds each
   * row's xoshiro128** state and is advanced IN PLACE by one draw, so the launch can be replayed.
   * The warpers are the same for every row (scalars) or each row's own (per row, read from `table`
   * on a device).
   */
  sampleTokens?(logits: Tensor, rngState: Tensor, o: SampleTokensScalars | SampleTokensPerRow): Tensor;
  /**
   * Optional: records the device work `fn` does (running it as usual), for replay without the
   * JavaScript that chose it — as CUDA graphs, for launch-bound decode steps. Null when the work
   * cannot be replayed (it uploaded or read back host data). See RecordedWork for the rules.
   */
  recordWork?(fn: () => void): RecordedWork | null;
  /**
   * Optional: resolves once the device has finished the work recorded so far (absent where work
   * runs when it is asked for, as on the CPU).
   */
  sync?(): Promise<void>;

  // ---- optimizers (optional; in place, so that a step allocates nothing)
  /**
   * One AdamW step over float32 tensors of one size: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g²,
   * p ← decayFactor·p − lr·(m/correction1) / (√(v/correction2) + eps).
   */
  adamwUpdate?(p: Tensor, g: Tensor, m: Tensor, v: Tensor, h: AdamWScalars): void;
  /** Σ x² over every element of the float32 tensors xs, read back at once. */
  sumOfSquares?(xs: readonly Tensor[]): number;
  /** x ← a·x for a float32 tensor. */
  scaleInPlace?(x: Tensor, a: number): void;
  /**
   * Optional: the tensors' contents were changed in place outside the ops (an optimizer step, a
   * replayed one included): the backend drops whatever it derived from them and cached (WebGPU's
   * packed parameter buffers), which would otherwise be stale.
   */
  contentsChanged?(ts: readonly Tensor[]): void;
  /**
   * Optional: AdamW over float32 parameters of the given layout in one pass (see FusedAdamW),
   * with the clip on the device; null when it does not take this layout.
   */
  createFusedAdamW?(layout: FusedAdamWLayout): FusedAdamW | null;

  /**
   * Optional: a whole Mamba-2 layer's decode step fused (WebGPU: a few launches; the CPU: no
   * tensors between its parts), the states updated in place.
   * Returns null when it does not handle these inputs (e.g. too many rows, half-precision norms).
   */
  mamba2BlockStep?(i: Mamba2BlockStepInputs): Tensor | null;

  /**
   * Optional: Mamba-2's chunked SSD forward (ops/ssd.ts, ssdChunked) fused — the same map, by
   * whichever algorithm suits the backend (WebGPU: chunks; the CPU: the recurrence); with `keep`, it
   * also returns what ssdChunkedBackward needs. Returns null when it does not handle these inputs
   * (the composed ops run instead).
   */
  ssdChunkedForward?(i: SsdForwardInputs): SsdForwardResult | null;
  /**
   * Optional, with ssdChunkedForward: the fused SSD's backward, from the inputs, what a forward with
   * `keep` kept (and its outputs), and the gradients of the output and (if it reached the loss) of the last state.
   */
  ssdChunkedBackward?(i: SsdForwardInputs, kept: SsdSaved, gOut: Tensor, gLast: Tensor | null): SsdGradients;
}

/** The fused SSD forward's results; `kept` only where the inputs asked for it. */
export interface SsdForwardResult {
  out: Tensor; // (Bt, L, H, P)
  lastState: Tensor; // (Bt, H, P, N)
  kept?: SsdKept;
}

/**
 * What the fused SSD forward keeps for its backward (the caller owns and frees these); null where
 * the backend's backward recomputes it (the CPU's recomputes the states from the inputs).
 */
export interface SsdKept {
  /** The within-chunk cumulative sums of dt·A, (Bt, L, H). */
  cum: Tensor | null;
  /** The state entering each chunk, (Bt, chunks, H, P, N). */
  states: Tensor | null;
}

/** What the fused SSD's backward reads of its forward: what it kept, its output and last state. */
export interface SsdSaved extends SsdKept {
  out: Tensor;
  lastState: Tensor;
}

/** The gradients of the SSD's inputs; null for an input that was absent. */
export interface SsdGradients {
  dx: Tensor;
  ddt: Tensor;
  dA: Tensor;
  dB: Tensor;
  dC: Tensor;
  dD: Tensor | null;
  dInitialState: Tensor | null;
}

/** The chunked SSD's inputs (ops/ssd.ts states the map), checked by the op; f32. */
export interface SsdForwardInputs {
  x: Tensor; // (Bt, L, H, P)
  dt: Tensor; // (Bt, L, H), already softplus'd and clamped
  A: Tensor; // (H)
  B: Tensor; // (Bt, L, G, N)
  C: Tensor; // (Bt, L, G, N)
  D: Tensor | null; // (H)
  initialState: Tensor | null; // (Bt, H, P, N)
  /** Tokens per chunk, 1 <= chunk <= L. */
  chunk: number;
  /**
   * Keep what ssdChunkedBackward needs (SsdForwardResult.kept); the forward then returns null where
   * the backward would not take these inputs.
   */
  keep?: boolean;
}

/**
 * One Mamba-2 layer's decode step, h + mixer(RMSNorm(h)) (models/mamba2/mixer.ts states the
 * mixer), for a fused implementation. The new conv and SSM states are written over `convState`
 * and `ssmState` (a replayed decode step keeps its state buffers).
 */
export interface Mamba2BlockStepInputs {
  h: Tensor; // (B, D) residual stream
  normWeight: Tensor; // (D)
  eps: number;
  inProj: Tensor; // (E + CD + NH, D): z, xBC, dt; CD = E + 2·G·N
  inProjBias: Tensor | null;
  convWeight: Tensor; // (CD, K)
  convBias: Tensor | null;
  convState: Tensor; // (B, CD, K-1), updated in place
  dtBias: Tensor; // (NH)
  ALog: Tensor; // (NH): A = −exp(A_log)
  D: Tensor; // (NH)
  /** time_step_limit: dt is clamped to [lo, hi] (hi may be Infinity). */
  dtLimit: readonly [number, number];
  groups: number; // G, of B/C and of the gated norm
  gatedNormWeight: Tensor; // (E)
  gatedNormEps: number;
  outProj: Tensor; // (D, E)
  outProjBias: Tensor | null;
  ssmState: Tensor; // (B, NH, P, N), updated in place
}

/**
 * Device work recorded once and replayed: every replay reads the same input buffers and writes the
 * same outputs as the recording did. The tensors `fn` read or kept must therefore stay alive, and
 * unchanged in identity, while the recording is used; its temporaries belong to it until disposed.
 */
/** A backend that records device work for replay (Backend.recordWork present). */
export type RecordingBackend = Backend & { recordWork(fn: () => void): RecordedWork | null };

export interface RecordedWork {
  replay(): void;
  dispose(): void;
}
