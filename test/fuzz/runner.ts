/**
 * Runs fuzz cases in a worker child process (worker.ts) with a heap limit, a per-case wall-clock
 * limit and a bound on resident memory, so that a hang, an out-of-memory abort or a runaway
 * allocation becomes a failure report naming the case instead of a dead test run. A killed or
 * crashed worker is replaced by a fresh one for the next case.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FuzzCase, Outcome, WorkerReply, WorkerRequest } from './protocol.js';

const WORKER = join(dirname(fileURLToPath(import.meta.url)), 'worker.js');

export interface RunnerLimits {
  /** V8 heap limit of the worker (--max-old-space-size). */
  heapMb: number;
  /** Resident memory past which the worker is killed (typed arrays live outside the V8 heap). */
  rssMb: number;
  /** Wall-clock limit per case. */
  caseMs: number;
}

function envNumber(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${JSON.stringify(v)}`);
  return n;
}

/** Defaults, each overridable by an environment variable. */
export function runnerLimits(): RunnerLimits {
  return {
    heapMb: envNumber('MAMBA_TS_FUZZ_HEAP_MB', 384),
    rssMb: envNumber('MAMBA_TS_FUZZ_RSS_MB', 1024),
    caseMs: envNumber('MAMBA_TS_FUZZ_CASE_MS', 10_000),
  };
}

/** Resident memory of a process in MiB from /proc (Linux); undefined elsewhere. */
function residentMb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

interface Worker {
  child: ChildProcess;
  stderr: string[];
  exited: Promise<string>;
}

export class FuzzRunner {
  private worker: Worker | undefined;
  private nextId = 0;
  private current: Promise<unknown> = Promise.resolve();
  /** Cases run and workers started, for the summary line. */
  readonly stats = { cases: 0, workers: 0, slowestMs: 0 };

  private constructor(
    private readonly dir: string,
    readonly limits: RunnerLimits,
  ) {}

  static async create(limits: RunnerLimits = runnerLimits()): Promise<FuzzRunner> {
    return new FuzzRunner(await mkdtemp(join(tmpdir(), 'mamba-ts-fuzz-')), limits);
  }

  private async start(): Promise<Worker> {
    const child = fork(WORKER, [], {
      execArgv: [`--max-old-space-size=${this.limits.heapMb}`],
      env: { ...process.env, MAMBA_TS_FUZZ_WORKER: '1', MAMBA_TS_FUZZ_DIR: this.dir },
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    const stderr: string[] = [];
    child.stderr!.on('data', (d: Buffer) => {
      stderr.push(d.toString());
      if (stderr.length > 50) stderr.shift();
    });
    const exited = new Promise<string>((ok) => child.once('exit', (code, signal) => ok(signal ? `signal ${signal}` : `exit code ${code}`)));
    const ready = await Promise.race([
      new Promise<true>((ok) => child.once('message', () => ok(true))),
      exited.then((how) => new Error(`the fuzz worker died on start (${how}): ${stderr.join('').slice(-2000)}`)),
    ]);
    if (ready !== true) throw ready;
    this.stats.workers++;
    return { child, stderr, exited };
  }

  /** Runs one case; never rejects for anything the case does (that is the Outcome). */
  run(fuzzCase: FuzzCase): Promise<Outcome> {
    const run = this.current.then(() => this.runNow(fuzzCase));
    this.current = run.catch(() => undefined);
    return run;
  }

  /**
   * Resolves when no case is running. A property whose shrinking was cut off at its time limit
   * may leave one running; the next property waits for it rather than sharing the worker.
   */
  async idle(): Promise<void> {
    await this.current;
  }

  private async runNow(fuzzCase: FuzzCase): Promise<Outcome> {
    this.worker ??= await this.start();
    const w = this.worker;
    const id = this.nextId++;
    const started = Date.now();
    this.stats.cases++;
    let poll: ReturnType<typeof setInterval> | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onMessage: ((m: WorkerReply) => void) | undefined;
    try {
      const outcome = await new Promise<Outcome>((ok) => {
        onMessage = (m: WorkerReply) => {
          if (m.id === id) ok(m.outcome);
        };
        w.child.on('message', onMessage);
        timer = setTimeout(() => ok({ kind: 'timeout', ms: this.limits.caseMs }), this.limits.caseMs);
        poll = setInterval(() => {
          const rss = residentMb(w.child.pid!);
          if (rss !== undefined && rss > this.limits.rssMb) ok({ kind: 'memory', rssMb: Math.round(rss) });
        }, 25);
        void w.exited.then((how) => ok({ kind: 'crashed', detail: `worker ended (${how}): ${w.stderr.join('').slice(-1500)}` }));
        const request: WorkerRequest = { id, fuzzCase };
        w.child.send(request);
      });
      if (outcome.kind === 'timeout' || outcome.kind === 'memory' || outcome.kind === 'crashed') await this.stop();
      return outcome;
    } finally {
      clearInterval(poll);
      clearTimeout(timer);
      if (onMessage) w.child.off('message', onMessage);
      this.stats.slowestMs = Math.max(this.stats.slowestMs, Date.now() - started);
    }
  }

  private async stop(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (!w) return;
    w.child.kill('SIGKILL');
    await w.exited;
  }

  async close(): Promise<void> {
    await this.idle();
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}
