/**
 * Generation throughput (issue 15, the Mamba paper's Figure 8 protocol): each model (random
 * weights, see throughput-models.ts) generates `gen` tokens greedily after a prompt of `prompt`
 * tokens for a batch of sequences, through the library's generate() (batched, with the models'
 * KV/state caches and, where a model has one, its replayed decode stepper). One JSON line per
 * (model, batch, repeat):
 *   prefill_s        the prompt through the model, up to its last logits on the host's clock
 *                    (the device is waited for);
 *   decode_s         the rest of generate(): the `gen` new tokens (gen − 1 decode steps + the argmax
 *                    of the prompt's logits), all read back;
 *   tokens_per_s     batch × gen / decode_s (generation throughput over all sequences);
 *   cache_bytes      the decode state the sequences need at prompt + gen tokens, float32 (KV cache
 *                    + Mamba conv/SSM states, from the configs' footprints);
 *   cache_bytes_held what the caches held at the last step (growth capacity included);
 *   replayed_steps   decode steps replayed from a recording (0: every step ran as usual);
 *   stepper_after_prefill_ms, replay_host_ms_per_step, unreplayed_step_host_ms: host time until
 *                    the decode stepper is asked for, inside each replayed step (mean), and inside
 *                    the steps that were not replayed (recordings) — where fixed costs hide.
 * A warm-up generate (a prompt of min(prompt, 64) tokens; `gen` new ones for a model's first
 * point, as mamba_ssm's benchmark runs a whole generation first, then 8) precedes each (model,
 * batch, prompt); --warmup-seconds S adds whole warm-up generations until S seconds have passed
 * (the GPU's clocks and the JIT at their steady state; the lines then say how many ran).
 *
 * --long: the long-context sweep: Jamba against the all-attention model of the same active
 * parameters (llama-attn) at each context (prefill of the context, then `gen` tokens), batch 1
 * and 8 by default. A failure (out of memory, unsupported) prints a line with "error" and the run
 * goes on; in --long, the larger contexts of a failed (model, batch) are skipped.
 *
 *   npm run bench:throughput -- [--device webgpu|cpu] [--size 130m|1.4b] [--models mamba,llama,jamba]
 *     [--batch 1,8,32,64,128] [--prompt 2048] [--gen 128] [--repeat 1] [--warmup-seconds 0]
 *   npm run bench:throughput -- --long [--contexts 4096,...,131072] [--batch 1,8] [--gen 128]
 * --variants "MAMBA_TS_BATCH_SPLITK=all;MAMBA_TS_STEP_SSM=states": the same points also under
 * other switches, in this process (variants separated by ';', NAME=VALUE pairs inside one by ','),
 * the default first: each variant is warmed up, then the repeats run the variants in turn, so that
 * the machine's drift between processes does not enter their comparison (use --repeat 3 or more).
 * A model's kept decode recordings are released before each variant's run: a recording made under
 * one variant's switches must not be replayed under another's (so keep MAMBA_TS_KEEP_DECODE_GRAPHS
 * comparisons in separate processes).
 * scripts/hf_throughput.py runs the same protocol with HF transformers (PyTorch) and prints the
 * same fields.
 */
import { parseArgs } from 'node:util';
import { getBackend, initWebGPU, type DeviceName } from '../src/backend/registry.js';
import type { WebGpuBackend } from '../src/backend/webgpu/index.js';
import { ArgumentError } from '../src/errors.js';
import { generate } from '../src/generation/generate.js';
import { parseVariants, withSwitches, type SwitchVariant } from './switch-variants.js';
import { TimedLM } from './timed-lm.js';
import { buildModel, MODEL_NAMES, SIZES, type BenchModel, type ModelName, type SizeName } from './throughput-models.js';

const { values } = parseArgs({
  options: {
    device: { type: 'string', default: 'webgpu' },
    size: { type: 'string', default: '130m' },
    models: { type: 'string' },
    batch: { type: 'string' },
    prompt: { type: 'string', default: '2048' },
    gen: { type: 'string', default: '128' },
    repeat: { type: 'string', default: '1' },
    long: { type: 'boolean', default: false },
    contexts: { type: 'string', default: '4096,8192,16384,32768,65536,131072' },
    variants: { type: 'string', default: '' },
    'warmup-seconds': { type: 'string', default: '0' },
  },
});

function positiveInt(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new ArgumentError(`--${flag}: expected an integer >= 1, got ${JSON.stringify(text)}`);
  return n;
}
const intList = (flag: string, text: string) => text.split(',').map((t) => positiveInt(flag, t.trim()));
function oneOf<T extends string>(flag: string, text: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(text)) throw new ArgumentError(`--${flag}: expected one of ${allowed.join(', ')}, got ${JSON.stringify(text)}`);
  return text as T;
}

const device = oneOf<DeviceName>('device', values.device, ['cpu', 'webgpu']);
const size = oneOf<SizeName>('size', values.size, SIZES);
const long = values.long;
const models = (values.models ?? (long ? 'jamba,llama-attn' : 'mamba,llama,jamba')).split(',').map((m) => oneOf<ModelName>('models', m.trim(), MODEL_NAMES));
const batches = intList('batch', values.batch ?? (long ? '1,8' : '1,8,32,64,128'));
const gen = positiveInt('gen', values.gen);
const repeat = positiveInt('repeat', values.repeat);
const lengths = long ? intList('contexts', values.contexts) : [positiveInt('prompt', values.prompt)];
const bench = long ? 'long_context' : 'throughput';
const warmupSeconds = Number(values['warmup-seconds']);
if (!Number.isFinite(warmupSeconds) || warmupSeconds < 0 || warmupSeconds > 600) {
  throw new ArgumentError(`--warmup-seconds: expected a number of seconds in [0, 600], got ${JSON.stringify(values['warmup-seconds'])}`);
}

/** --variants, after the default (no switches). */
const variants: SwitchVariant[] = [{ name: 'default', env: {} }, ...parseVariants(values.variants, '--variants')];

/** Runs `f` with a variant's switches set, and puts the environment back as it was. */
async function under<R>(v: SwitchVariant, f: () => Promise<R>): Promise<R> {
  const env = withSwitches(v.env);
  try {
    return await f();
  } finally {
    env.restore();
  }
}

let adapter: unknown;
if (device === 'webgpu') adapter = ((await initWebGPU()) as WebGpuBackend).adapterInfo;
const backend = getBackend(device);
const emit = (o: Record<string, unknown>) => console.log(JSON.stringify({ ...o, device, framework: 'mamba-ts', ...(adapter ? { adapter } : {}) }));

/** Deterministic, different prompts per row (the values do not change the work). */
function prompts(batch: number, length: number, vocab: number): number[][] {
  return Array.from({ length: batch }, (_, b) => Array.from({ length }, (_, i) => (i * 7919 + b * 104729 + 1) % vocab));
}

interface RunTimes {
  prefill_s: number;
  decode_s: number;
  cache_bytes_held: number;
  replayed_steps: number;
  stepper_after_prefill_ms: number | null;
  replay_host_ms_per_step: number | null;
  unreplayed_step_host_ms: number;
}

async function run(m: BenchModel, ids: number[][], newTokens: number): Promise<RunTimes> {
  const timed = new TimedLM(m.lm, ids[0]!.length, backend);
  const onStep = () => {
    timed.cacheBytesHeld = Math.max(timed.cacheBytesHeld, timed.cache?.memoryBytes() ?? 0);
  };
  const t0 = performance.now();
  await generate(timed, ids, { maxNewTokens: newTokens, eosTokenId: null, onStep });
  const t1 = performance.now();
  const replayed_steps = timed.stepper?.replayed ?? 0;
  return {
    prefill_s: (timed.prefillEnd - t0) / 1000,
    decode_s: (t1 - timed.prefillEnd) / 1000,
    cache_bytes_held: timed.cacheBytesHeld,
    replayed_steps,
    // Where batch-1 decoding's time goes on the host: until the stepper exists, inside replayed
    // steps (mean per step) and inside the steps that were not replayed (the recordings).
    stepper_after_prefill_ms: timed.stepperAt ? +(timed.stepperAt - timed.prefillEnd).toFixed(2) : null,
    replay_host_ms_per_step: replayed_steps ? +(timed.replayHostMs / replayed_steps).toFixed(3) : null,
    unreplayed_step_host_ms: +timed.otherStepHostMs.toFixed(2),
  };
}

const errorText = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e)).slice(0, 500);

for (const name of models) {
  let m: BenchModel;
  try {
    m = buildModel(name, size, device);
  } catch (e) {
    emit({ bench, model: name, size, error: errorText(e) });
    continue;
  }
  const about = { model: name, size, params: m.parameters, active_params: m.activeParameters, dtype: 'float32' };
  emit({ bench: 'model', ...about, config: m.config });
  let warmed = false;
  for (const batch of batches) {
    let failedAt: number | null = null;
    for (const length of lengths) {
      const where = { bench, ...about, batch, [long ? 'context' : 'prompt']: length, gen };
      if (failedAt !== null) {
        emit({ ...where, error: `skipped: context ${failedAt} failed at this batch size` });
        continue;
      }
      try {
        const ids = prompts(batch, length, m.lm.vocabSize);
        // Warm-up, as mamba_ssm's benchmark_generation_mamba_simple.py runs one whole generation
        // before timing: pipelines, buffers, and the JavaScript of the replayed step compiled by the
        // JIT (measured on an H100: 969 tokens/s at batch 1 after an 8-token warm-up, 1,475 where the
        // same code had already run). The JIT's part is needed once per model, so the later
        // (batch, length) points warm up with 8 tokens. A short prompt: the decode kernels do not
        // depend on its length.
        // With variants, every variant warms up its own kernels and recordings.
        const release = () => {
          if (variants.length > 1) (m.lm as { releaseDecodeRecordings?: () => void }).releaseDecodeRecordings?.();
        };
        const warmIds = prompts(batch, Math.min(length, 64), m.lm.vocabSize);
        for (const v of variants) {
          release();
          await under(v, () => run(m, warmIds, warmed ? Math.min(gen, 8) : gen));
        }
        warmed = true;
        // --warmup-seconds: whole generations (short prompt, `gen` new tokens) until that much time
        // has passed, so that the GPU's clocks and the JIT are at their steady state before timing:
        // one warm-up generation is a tenth of a second at batch 1, and the same code's batch-1
        // runs differed 1.6× minutes apart on one H100 (docs/throughput.md, seventh session).
        const warmUntil = performance.now() + warmupSeconds * 1000;
        let warmRuns = 0;
        while (performance.now() < warmUntil) {
          for (const v of variants) {
            release();
            await under(v, () => run(m, warmIds, gen));
          }
          warmRuns++;
        }
        const cache = m.cacheBytes(batch, length + gen);
        for (let rep = 0; rep < repeat; rep++) for (const v of variants) {
          release();
          const r = await under(v, () => run(m, ids, gen));
          emit({
            ...where,
            ...(variants.length > 1 ? { variant: v.name } : {}),
            ...(warmupSeconds > 0 ? { warmup_seconds: warmupSeconds, warmup_generations: warmRuns } : {}),
            rep,
            prefill_s: +r.prefill_s.toFixed(4),
            decode_s: +r.decode_s.toFixed(4),
            total_s: +(r.prefill_s + r.decode_s).toFixed(4),
            prefill_tokens_per_s: +((batch * length) / r.prefill_s).toFixed(1),
            tokens_per_s: +((batch * gen) / r.decode_s).toFixed(1),
            cache_bytes: cache.total,
            kv_bytes: cache.kv,
            mamba_state_bytes: cache.mambaState,
            cache_bytes_held: r.cache_bytes_held,
            replayed_steps: r.replayed_steps,
            stepper_after_prefill_ms: r.stepper_after_prefill_ms,
            replay_host_ms_per_step: r.replay_host_ms_per_step,
            unreplayed_step_host_ms: r.unreplayed_step_host_ms,
          });
        }
      } catch (e) {
        emit({ ...where, error: errorText(e) });
        if (long) failedAt = length;
      }
    }
  }
  m.dispose();
}
