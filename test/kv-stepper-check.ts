/**
 * Shared checks of the replayed decode steps of models with attention layers (KvDecodeStepper:
 * Jamba, Llama) against the usual steps, on WebGPU: greedy tokens, the final cache, and the count
 * of replayed steps.
 */
import assert from 'node:assert/strict';
import { leftPad } from '../src/generation/attention-mask.js';
import type { CausalLM, DecodeCache, DecodeStepper, TokenPicker } from '../src/generation/causal-lm.js';
import { argmax, reshape } from '../src/ops/index.js';
import { tidy } from '../src/tensor/memory.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { availableDevices } from './devices.js';

export async function webgpuOrSkip(t: { skip(reason: string): void }): Promise<boolean> {
  if ((await availableDevices()).includes('webgpu')) return true;
  t.skip('no WebGPU adapter');
  return false;
}

const argmaxPicker = (B: number): TokenPicker => (logits) => reshape(argmax(logits), [B, 1]);

/** What the check needs of the model beyond CausalLM. */
export interface SteppedModel<C extends DecodeCache> extends CausalLM<C> {
  decodeStepper(cache: C, pick: TokenPicker): (DecodeStepper & { recordings: number }) | null;
}

/** Every buffer of the cache worth comparing, read back, by name. */
export type CacheDump<C> = (cache: C) => Promise<Map<string, ArrayLike<number> | number | string>>;

/**
 * Prefills `prompts` (left-padded when their lengths differ), then runs `steps` greedy steps the
 * usual way (nextLogits + argmax) and through the stepper, and compares: the tokens, the caches
 * (by `dump`), the replayed steps (= steps − recordings) and the recordings expected.
 */
export async function checkReplayEqualsSteps<C extends DecodeCache>(
  model: SteppedModel<C>,
  prompts: number[][],
  steps: number,
  dump: CacheDump<C>,
  recordings: number,
  /** A step of the stepper's run that goes through nextLogits instead (mixing both on one cache). */
  usualStepAt = -1,
): Promise<void> {
  const B = prompts.length;
  const ragged = prompts.some((p) => p.length !== prompts[0]!.length);
  const { ids, attentionMask } = ragged ? leftPad(prompts, 0) : { ids: prompts, attentionMask: undefined };
  const prefill = async (cache: C): Promise<Tensor> => {
    const logits = await model.nextLogits(ids, cache, attentionMask);
    const next = tidy(() => argmaxPicker(B)(logits));
    logits.dispose();
    return next;
  };
  // The usual way.
  const plainCache = model.createCache(B);
  let next = await prefill(plainCache);
  const plain: number[][] = [];
  for (let s = 0; s < steps; s++) {
    const logits = await model.nextLogits(next, plainCache);
    next.dispose();
    next = tidy(() => argmaxPicker(B)(logits));
    logits.dispose();
    plain.push(Array.from((await next.data()) as Int32Array));
  }
  next.dispose();
  // Through the stepper.
  const cache = model.createCache(B);
  const first = await prefill(cache);
  const stepper = model.decodeStepper(cache, argmaxPicker(B));
  assert.ok(stepper, 'WebGPU has a decode stepper');
  const replayedTokens: number[][] = [];
  let ids2 = first;
  let usual: Tensor | null = null;
  for (let s = 0; s < steps; s++) {
    if (s === usualStepAt) {
      const logits = await model.nextLogits(ids2, cache);
      usual = ids2 = tidy(() => argmaxPicker(B)(logits));
      logits.dispose();
    } else {
      ids2 = stepper.step(ids2);
    }
    replayedTokens.push(Array.from((await ids2.data()) as Int32Array));
  }
  first.dispose();
  usual?.dispose();
  assert.deepEqual(replayedTokens, plain, 'tokens');
  assert.equal(stepper.recordings, recordings, 'recordings (one, and one after each growth of the KV caches)');
  assert.equal(stepper.replayed, steps - recordings - (usualStepAt >= 0 ? 1 : 0), 'replayed steps');
  const [a, b] = [await dump(cache), await dump(plainCache)];
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [name, v] of a) assert.deepEqual(v, b.get(name), name);
  stepper.dispose();
  cache.dispose();
  plainCache.dispose();
}

/** generate() gives the same tokens with replayed steps and with MAMBA_TS_DECODE_GRAPH=0. */
export async function checkGenerateSameWithAndWithoutReplay(model: CausalLM & { generate(ids: number[][], o: object): Promise<number[][]> }, prompts: number[][], maxNewTokens: number): Promise<void> {
  const run = async (graph: boolean) => {
    if (graph) delete process.env['MAMBA_TS_DECODE_GRAPH'];
    else process.env['MAMBA_TS_DECODE_GRAPH'] = '0';
    try {
      return await model.generate(prompts, { maxNewTokens, eosTokenId: null });
    } finally {
      delete process.env['MAMBA_TS_DECODE_GRAPH'];
    }
  };
  const plain = await run(false);
  assert.deepEqual(await run(true), plain);
}
