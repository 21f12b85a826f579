/**
 * llama.cpp through node-llama-cpp (a dev dependency: its prebuilt CPU binary, never a build, no
 * GPU), timed the way bench/cpu.ts times mamba-ts: a prefill of L tokens up to the first sampled
 * token, and greedy decoding of n tokens after a short prompt. One context per thread count, made
 * before any timing.
 */
import type { ControlledEvaluateInputItem, Llama, LlamaContext, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';

export interface LlamaCppEngine {
  /** llama.cpp's release, as node-llama-cpp reports it. */
  readonly release: string;
  /** Seconds to evaluate `ids` and sample the next token, on a fresh sequence. */
  prefill(weights: string, threads: number, ids: number[]): Promise<number>;
  /** Seconds for `n` greedy tokens after `prompt` (the prompt's evaluation and first token untimed). */
  decode(weights: string, threads: number, prompt: number[], n: number): Promise<number>;
  /** The logits after `ids` (vocabulary order), to check both engines run the same model. */
  /** The next token's probabilities after `ids`. */
  lastProbabilities(weights: string, threads: number, ids: number[], vocab: number): Promise<Float32Array>;
  /** The `n` greedy tokens after `prompt` (to check both engines run the same model). */
  greedy(weights: string, threads: number, prompt: number[], n: number): Promise<number[]>;
  dispose(): Promise<void>;
}

/**
 * Loads node-llama-cpp's CPU binary and the GGUF files (weights name → path), with a context per
 * thread count sized for `maxTokens`. Throws with node-llama-cpp's reason when it cannot load.
 */
export async function loadLlamaCpp(files: Record<string, string>, threads: number[], maxTokens: number): Promise<LlamaCppEngine> {
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  // maxThreads 0: no pool limit, so a context's `threads` is the count it really uses.
  const llama: Llama = await getLlama({ gpu: false, build: 'never', maxThreads: 0, logLevel: LlamaLogLevel.error });
  const models: LlamaModel[] = [];
  const contexts: LlamaContext[] = [];
  const sequences = new Map<string, LlamaContextSequence>();
  const key = (weights: string, t: number) => `${weights}@${t}`;
  for (const [weights, path] of Object.entries(files)) {
    const model = await llama.loadModel({ modelPath: path });
    models.push(model);
    for (const t of threads) {
      const ctx = await model.createContext({ contextSize: maxTokens + 64, batchSize: maxTokens, threads: t, sequences: 1 });
      contexts.push(ctx);
      // Recurrent models take state checkpoints every `interval` tokens by default: not what is timed here.
      sequences.set(key(weights, t), ctx.getSequence({ checkpoints: { interval: false } }));
    }
  }
  /** The context's one sequence, emptied (untimed). */
  const sequence = async (weights: string, t: number) => {
    const seq = sequences.get(key(weights, t));
    if (!seq) throw new Error(`llama.cpp: no context for ${weights} weights at ${t} threads`);
    await seq.clearHistory();
    return seq;
  };
  return {
    release: llama.llamaCppRelease.release,
    async prefill(weights, t, ids) {
      const seq = await sequence(weights, t);
      const input: ControlledEvaluateInputItem[] = (ids as Token[]).map((id, i) => (i === ids.length - 1 ? [id, { generateNext: { token: true, options: { temperature: 0 } } }] : id));
      const t0 = performance.now();
      const out = await seq.controlledEvaluate(input);
      const seconds = (performance.now() - t0) / 1000;
      if (out[ids.length - 1]?.next?.token === undefined) throw new Error('llama.cpp prefill produced no token');
      return seconds;
    },
    async decode(weights, t, prompt, n) {
      const seq = await sequence(weights, t);
      const it = seq.evaluate(prompt as Token[], { temperature: 0 });
      await it.next(); // the prompt and the first token: not timed
      const t0 = performance.now();
      for (let i = 0; i < n; i++) if ((await it.next()).done) throw new Error(`llama.cpp decode stopped after ${i} tokens`);
      const seconds = (performance.now() - t0) / 1000;
      await it.return();
      return seconds;
    },
    async lastProbabilities(weights, t, ids, vocab) {
      const seq = await sequence(weights, t);
      // node-llama-cpp 3.21 gives the next token's probabilities, not raw logits.
      const input: ControlledEvaluateInputItem[] = (ids as Token[]).map((id, i) => (i === ids.length - 1 ? [id, { generateNext: { probabilities: true } }] : id));
      const probs = (await seq.controlledEvaluate(input))[ids.length - 1]?.next?.probabilities;
      if (!probs) throw new Error('llama.cpp gave no probabilities');
      const out = new Float32Array(vocab);
      for (const [token, p] of probs) out[token] = p;
      return out;
    },
    async greedy(weights, t, prompt, n) {
      const seq = await sequence(weights, t);
      const out: number[] = [];
      for await (const token of seq.evaluate(prompt as Token[], { temperature: 0 })) {
        out.push(token);
        if (out.length === n) break;
      }
      return out;
    },
    async dispose() {
      for (const c of contexts) await c.dispose();
      for (const m of models) await m.dispose();
      await llama.dispose();
    },
  };
}
