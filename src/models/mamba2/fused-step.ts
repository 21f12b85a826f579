/**
 * A Mamba-2 layer's decode step through the device's fused kernels (Backend.mamba2BlockStep:
 * three launches on WebGPU instead of a few dozen; on the CPU one pass without tensors between its
 * parts), where there are some.
 */
import { shouldRecord } from '../../autograd/tape.js';
import { mamba2BlockStepFused, reshape } from '../../ops/index.js';
import type { Mamba2BlockStepInputs } from '../../backend/backend.js';
import { Tensor } from '../../tensor/tensor.js';
import type { Mamba2State } from './mixer.js';
import type { Mamba2Block } from './modeling.js';

/**
 * h (B, 1, D) → h + mixer(norm(h)) and the new state, or null where the device has no fused step
 * for it (the caller then runs it op by op). `inPlace`: the new state is written over `state`'s
 * buffers, which are returned as it. Steps recorded for gradients go op by op (the fused kernels
 * have no backward).
 */
export function fusedBlockStep(block: Mamba2Block, h: Tensor, state: Mamba2State, inPlace: boolean): { out: Tensor; state: Mamba2State } | null {
  const m = block.mixer;
  if (!h.backend.mamba2BlockStep) return null;
  const f = m.config.fields;
  const [B, , D] = h.shape as [number, number, number];
  // Views only (no tidy on this per-token path): disposed right after the call.
  const h2 = reshape(h, [B, D]);
  const convWeight = reshape(m.conv1d.weight.value, [m.config.convDim, f.conv_kernel]);
  try {
    const inputs: Mamba2BlockStepInputs = {
      h: h2,
      normWeight: block.norm.weight.value,
      eps: block.norm.eps,
      inProj: m.in_proj.weight.value,
      inProjBias: m.in_proj.bias?.value ?? null,
      convWeight,
      convBias: m.conv1d.bias?.value ?? null,
      convState: state.conv,
      dtBias: m.dt_bias.value,
      ALog: m.A_log.value,
      D: m.D.value,
      dtLimit: f.time_step_limit,
      groups: f.n_groups,
      gatedNormWeight: m.norm.weight.value,
      gatedNormEps: m.norm.eps,
      outProj: m.out_proj.weight.value,
      outProjBias: m.out_proj.bias?.value ?? null,
      ssmState: state.ssm,
    };
    if (shouldRecord(...Object.values(inputs).filter((v): v is Tensor => v instanceof Tensor))) return null;
    const r = mamba2BlockStepFused(inputs, inPlace);
    if (!r) return null;
    const out = reshape(r.out, [B, 1, D]);
    r.out.dispose();
    return { out, state: { conv: r.convState, ssm: r.ssmState } };
  } finally {
    h2.dispose();
    convWeight.dispose();
  }
}
