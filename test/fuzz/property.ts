/**
 * Running a fuzz property: a fast-check arbitrary of cases, each run in the worker (runner.ts), and a
 * check of each outcome. A fixed seed makes every run of the suite the same; MAMBA_TS_FUZZ_SEED
 * and MAMBA_TS_FUZZ_RUNS change the seed and the number of cases per property.
 *
 * MAMBA_TS_FUZZ_LOG=<file> appends one line per case (time, label, outcome).
 *
 * On a failure the first failing case is shrunk (fast-check's shrinking, bounded in time because a
 * hanging case costs the whole per-case limit) and reported with its seed and replay path.
 */
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import fc from 'fast-check';
import type { FuzzCase, Outcome } from './protocol.js';
import type { FuzzRunner } from './runner.js';

export const DEFAULT_SEED = 14_2025;

export function fuzzSeed(): number {
  const v = process.env['MAMBA_TS_FUZZ_SEED'];
  if (v === undefined || v === '') return DEFAULT_SEED;
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new Error(`MAMBA_TS_FUZZ_SEED must be an integer, got ${JSON.stringify(v)}`);
  return n;
}

/** Cases per property: MAMBA_TS_FUZZ_RUNS when set, else the property's default (sized for CI). */
export function fuzzRuns(defaultRuns: number): number {
  const v = process.env['MAMBA_TS_FUZZ_RUNS'];
  if (v === undefined || v === '') return defaultRuns;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`MAMBA_TS_FUZZ_RUNS must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

/** Time spent shrinking a failing case (MAMBA_TS_FUZZ_SHRINK_MS; 0 turns shrinking off). */
function shrinkMs(): number {
  const v = process.env['MAMBA_TS_FUZZ_SHRINK_MS'];
  return v === undefined || v === '' ? 60_000 : Number(v);
}

/** A generated case and what the generator knows about it (the expectation the check uses). */
export interface Draw<E> {
  fuzzCase: FuzzCase;
  expect: E;
}

/**
 * Runs `check` on the outcome of each case of `arb`; throws an AssertionError naming the (shrunk)
 * case on the first failure. `log` receives the seed and a summary line.
 */
export async function fuzzProperty<E>(
  name: string,
  runner: FuzzRunner,
  arb: fc.Arbitrary<Draw<E>>,
  check: (draw: Draw<E>, outcome: Outcome) => void,
  o: { runs: number; log: (line: string) => void },
): Promise<void> {
  const seed = fuzzSeed();
  const numRuns = fuzzRuns(o.runs);
  o.log(`${name}: ${numRuns} cases, seed ${seed} (MAMBA_TS_FUZZ_SEED=${seed} MAMBA_TS_FUZZ_RUNS=${numRuns} to replay)`);
  const logFile = process.env['MAMBA_TS_FUZZ_LOG'];
  const property = fc.asyncProperty(arb, async (draw) => {
    const started = Date.now();
    const outcome = await runner.run(draw.fuzzCase);
    if (logFile) {
      const what = outcome.kind === 'threw' ? `threw ${outcome.name}: ${clip(outcome.message, 160)}` : outcome.kind;
      const line = [name, `${Date.now() - started} ms`, draw.fuzzCase.label, what].map((f) => f.replace(/[\t\n\r]/g, ' '));
      appendFileSync(logFile, `${line.join('\t')}\n`);
    }
    check(draw, outcome);
  });
  const started = Date.now();
  const first = await fc.check(property, { seed, numRuns, endOnFailure: true });
  if (!first.failed) {
    o.log(`${name}: ${first.numRuns} cases passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return;
  }
  let details: fc.RunDetails<[Draw<E>]> = first;
  const budget = shrinkMs();
  if (budget > 0 && first.counterexamplePath !== null) {
    details = (await fc.check(property, { seed, numRuns, path: first.counterexamplePath, plugins: [fc.interruptAfterTimeLimit(budget)] })) as fc.RunDetails<[Draw<E>]>;
    if (!details.failed) details = first; // cannot happen unless the failure was flaky; report the original
    await runner.idle(); // a case cut off by the time limit may still be running
  }
  const draw = (details.counterexample as [Draw<E>] | null)?.[0];
  const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  assert.fail(
    `fuzz property "${name}" failed after ${first.numRuns} cases (seed ${seed}, path ${details.counterexamplePath ?? first.counterexamplePath}; ` +
      `shrunk ${details.numShrinks} times${details.interrupted ? ', shrinking stopped at its time limit' : ''}).\n` +
      `  case: ${draw?.fuzzCase.label ?? '(none)'}\n  problem: ${error}`,
  );
}

/** A shortened message for reports: the start and the end of a long one. */
export function clip(s: string, n = 400): string {
  return s.length <= n ? s : `${s.slice(0, n / 2)} … ${s.slice(-n / 2)}`;
}

/** Error classes that mean the library failed on the input instead of checking it. */
const CRASH_ERRORS = ['TypeError', 'RangeError', 'ReferenceError', 'SyntaxError', 'InternalError'];

export type Settled = Extract<Outcome, { kind: 'loaded' | 'threw' }>;

/**
 * What every case must satisfy: it ended (no hang, no memory past the bound, no crash), read
 * nothing outside the model root, and if it threw, threw an Error (not an engine error such as a
 * TypeError, nor one quoting a function's source) whose message names a file of the case (one of
 * `names`; default the model root, which every file in it starts with).
 */
export function settled(o: Outcome, names?: string[]): Settled {
  switch (o.kind) {
    case 'timeout':
      return assert.fail(`hang: no result within ${o.ms} ms`);
    case 'memory':
      return assert.fail(`memory: the worker's resident memory passed the bound (${o.rssMb} MiB)`);
    case 'crashed':
      return assert.fail(`crash: ${clip(o.detail, 1500)}`);
    default:
      break;
  }
  assert.deepEqual(o.escapes, [], `read outside the model root: ${o.escapes.join(', ')}`);
  if (o.kind === 'threw') {
    assert.ok(o.isError, `threw a non-Error (${o.name}): ${clip(o.message)}`);
    // Errors of the engine, not of validation: the library tripped over the input.
    assert.ok(!CRASH_ERRORS.includes(o.name) && !/\[native code\]/.test(o.message), `a crash rather than a validation error: ${o.name}: ${clip(o.message)}${o.stack ? `\n${clip(o.stack, 1200)}` : ''}`);
    const wanted = names ?? [o.root];
    assert.ok(
      wanted.some((n) => o.message.includes(n)),
      `the ${o.name}'s message names none of ${wanted.join(', ')}: ${clip(o.message)}${o.stack ? `\n${clip(o.stack, 1200)}` : ''}`,
    );
  }
  return o;
}

/** Asserts the case loaded; the message says what it threw instead. */
export function assertLoaded(o: Settled, why: string): asserts o is Extract<Settled, { kind: 'loaded' }> {
  if (o.kind !== 'loaded') assert.fail(`expected a successful load (${why}), got ${o.name}: ${clip(o.message)}`);
}

/** Asserts the case threw (an Error naming the file, checked by `settled`). */
export function assertThrew(o: Settled, why: string): asserts o is Extract<Settled, { kind: 'threw' }> {
  if (o.kind !== 'threw') assert.fail(`expected an error (${why}), but it loaded`);
}

/** Bitwise equality of two typed arrays' bytes (NaN payloads and signed zeros included). */
export function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

/** A deterministic stream of uint32s from a seed (mulberry32): cheap bulk "random" bytes for arbitraries. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}
