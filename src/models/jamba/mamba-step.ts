/**
 * A Jamba Mamba layer's mixer half for one token, h + mamba(input_layernorm(h)), through the
 * device's fused layer step (mambaBlockStep: three launches on WebGPU, four for a blocked batch,
 * instead of ~15 op by op), which takes the mixer's inner norms on Δ, B and C. The same
 * residual structure as a Mamba block's, so the same fused step serves both.
 */
import type { MixerState, MambaMixer } from '../../nn/mamba-mixer.js';
import type { RMSNorm } from '../../nn/layers.js';
import { shouldRecord } from '../../autograd/tape.js';
import { mambaBlockStepFused, prepareMambaBlockStep, reshape } from '../../ops/index.js';
import type { MambaBlockStepWeights } from '../../backend/backend.js';
import type { Tensor } from '../../tensor/tensor.js';

/** The layer's parameters as the fused step takes them; `convWeight` is a view, the caller's to dispose. */
function stepWeights(norm: RMSNorm, mixer: MambaMixer, n: NonNullable<MambaMixer['innerNorms']>): MambaBlockStepWeights {
  return {
    normWeight: norm.weight.value,
    eps: norm.eps,
    inProj: mixer.in_proj.weight.value,
    inProjBias: mixer.in_proj.bias?.value ?? null,
    convWeight: reshape(mixer.conv1d.weight.value, [mixer.dims.intermediateSize, mixer.dims.convKernel]),
    convBias: mixer.conv1d.bias?.value ?? null,
    xProj: mixer.x_proj.weight.value,
    dtProj: mixer.dt_proj.weight.value,
    dtProjBias: mixer.dt_proj.bias!.value,
    A: mixer.A(),
    D: mixer.D.value,
    outProj: mixer.out_proj.weight.value,
    outProjBias: mixer.out_proj.bias?.value ?? null,
    innerNorms: { dt: n.dt.weight.value, b: n.b.weight.value, c: n.c.weight.value, eps: n.dt.eps },
  };
}

/**
 * Builds what the device's fused step makes from this layer's parameters on first use, so that a
 * decode step recorded afterwards (JambaDecodeStepper) does not record making it.
 */
export function prepareFusedMambaMix(norm: RMSNorm, mixer: MambaMixer): void {
  if (!mixer.innerNorms || !norm.weight.value.backend.prepareMambaBlockStep) return;
  const w = stepWeights(norm, mixer, mixer.innerNorms);
  try {
    prepareMambaBlockStep(w);
  } finally {
    w.convWeight.dispose();
  }
}

/**
 * h (B, 1, H) → { out: h + mamba(norm(h)) (B, 1, H), state }, or null where the device has no
 * fused step for these inputs (the caller then runs the layer op by op). `inPlace`: the new state
 * is written over `state`'s own buffers and returned as it (a replayed decode step keeps them
 * fixed); otherwise it comes in new tensors and `state` is left as it was.
 */
export function fusedMambaMix(norm: RMSNorm, mixer: MambaMixer, h: Tensor, state: MixerState, inPlace: boolean): { out: Tensor; state: MixerState } | null {
  const [B, L, H] = h.shape as [number, number, number];
  if (L !== 1 || !h.backend.mambaBlockStep || !mixer.innerNorms) return null;
  // The fused step has no backward: a step that records gradients runs op by op.
  if (shouldRecord(h, norm.weight.value, ...[...mixer.namedParameters()].map(([, p]) => p.value))) return null;
  const n = mixer.innerNorms;
  // Views only (this is the per-token path): disposed right after the call.
  const h2 = reshape(h, [B, H]);
  const w = stepWeights(norm, mixer, n);
  try {
    const r = mambaBlockStepFused({ ...w, h: h2, convState: state.conv, ssmState: state.ssm, inPlace });
    if (!r) return null;
    const out = reshape(r.out, [B, 1, H]);
    r.out.dispose();
    return { out, state: inPlace ? state : { conv: r.convState, ssm: r.ssmState } };
  } finally {
    h2.dispose();
    w.convWeight.dispose();
  }
}
