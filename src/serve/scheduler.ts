/**
 * Continuous batching: sequences join the running batch at a step boundary and leave it as soon as
 * they finish, so a new request waits for one step, not for the longest sequence of a batch.
 *
 * Each turn of the loop: prefill the queued prompts that fit (each alone, batch 1; its first token
 * comes from its own logits), drop the rows that finished or were cancelled and add the prefilled
 * ones (BatchDecoder.regroup), decode one token for every row as one batch, pick each row's token
 * with that sequence's own options and generator, and yield to the event loop so that HTTP I/O
 * runs between steps. Tokens are picked where the logits are (the decoder keeps each row's
 * options and generator state there: serve/decoder.ts), except for a sequence with a repetition
 * penalty, whose logits come back to be picked here with its history. A row's tokens are
 * therefore those of a solo `generate()` with the same options: the same prefill, the same per-row
 * decode, the same processors and draw, and a generator seeded with the request's seed.
 */
import { ArgumentError } from '../errors.js';
import { yieldToEventLoop } from '../event-loop.js';
import type { CausalLM } from '../generation/causal-lm.js';
import { validateSamplingOptions, type SamplingOptions } from '../generation/logits-process.js';
import { pickNextToken, Rng } from '../generation/sampler.js';
import { checkTokenIds } from '../generation/token-ids.js';
import { decoderFor, type BatchDecoder, type PrefilledRow, type RowOutput, type RowPick } from './decoder.js';

/** One sequence to generate. The callbacks run on the scheduler's loop: keep them short. */
export interface SequenceRequest {
  /** Prompt token ids (at least one). */
  readonly prompt: readonly number[];
  /** New tokens at most (>= 1). */
  readonly maxTokens: number;
  readonly sampling: SamplingOptions;
  /** Ids that end the sequence (not passed to onToken, but counted as generated). */
  readonly eos: ReadonlySet<number>;
  /** Each new token; return true to end the sequence here (e.g. its text met a stop string). */
  onToken(id: number): boolean | void;
  /** Called once, when the sequence ends for any reason. */
  onEnd(end: SequenceEnd): void;
}

export type SequenceEnd =
  /** eos: an end-of-sequence id; length: maxTokens reached; stop: onToken asked to stop. */
  | { kind: 'finished'; reason: 'eos' | 'length' | 'stop'; generated: number }
  | { kind: 'cancelled'; reason: string; generated: number }
  | { kind: 'failed'; error: Error; generated: number };

export interface SequenceHandle {
  /** Ends the sequence: at once while it waits in the queue, else at the next step boundary (its row is then freed). */
  cancel(reason?: string): void;
}

/** The queue is full: the caller should answer 429 and let the client retry. */
export class QueueFullError extends Error {
  override name = 'QueueFullError';
}

export interface SchedulerOptions {
  /** Sequences decoded together at most (the batch's rows); others wait in the queue. */
  maxActive: number;
  /** Sequences waiting at most; submit throws QueueFullError beyond. */
  maxQueued: number;
  /** Called after every decode step with the batch size (for metrics). */
  onStep?: (batchSize: number) => void;
}

class Sequence {
  readonly history: number[];
  readonly rng: Rng;
  generated = 0;
  last = -1;
  ended = false;
  /** Set by cancel() while the sequence is in the batch: it leaves at the next boundary. */
  cancelReason: string | null = null;

  /** How the decoder picks this sequence's tokens. */
  readonly pick: RowPick;

  constructor(
    readonly req: SequenceRequest,
    vocabSize: number,
  ) {
    this.history = [...req.prompt];
    this.rng = new Rng(req.sampling.seed);
    const o = req.sampling;
    if ((o.repetitionPenalty ?? 1) !== 1) {
      this.pick = { kind: 'host' }; // the penalty needs the history: the logits come back
    } else {
      // A top-k of the vocabulary or more is off, as on the host (the device table caps it).
      const options = o.doSample ? { temperature: o.temperature ?? 1, topK: Math.min(o.topK ?? 0, vocabSize), topP: o.topP ?? 1, minP: o.minP ?? 0 } : 'greedy';
      this.pick = { kind: 'device', options, rngState: this.rng.state() };
    }
  }
}

interface Joining {
  seq: Sequence;
  row: PrefilledRow | null;
}

export class Scheduler {
  readonly decoder: BatchDecoder;
  private readonly queue: Sequence[] = [];
  /** The batch's rows, in order. */
  private active: Sequence[] = [];
  /** Prefilled this turn (cache null while prefilling, or when it failed), joining at the next regroup. */
  private joining: Joining[] = [];
  private loop: Promise<void> | null = null;
  private running = false;
  private closed = false;

  constructor(
    private readonly model: CausalLM,
    private readonly o: SchedulerOptions,
  ) {
    for (const k of ['maxActive', 'maxQueued'] as const) {
      const v = o[k];
      if (!Number.isInteger(v) || v < (k === 'maxActive' ? 1 : 0)) throw new ArgumentError(`Scheduler: ${k} must be an integer >= ${k === 'maxActive' ? 1 : 0}, got ${v}`);
    }
    this.decoder = decoderFor(model);
  }

  /** Sequences in the batch (or being prefilled to join it). */
  get activeCount(): number {
    return this.active.length + this.joining.length;
  }

  get queuedCount(): number {
    return this.queue.length;
  }

  get capacity(): number {
    return this.o.maxActive;
  }

  /** Queues a sequence; throws QueueFullError when the queue is full, ArgumentError on bad input. */
  submit(req: SequenceRequest): SequenceHandle {
    if (this.closed) throw new ArgumentError('Scheduler: closed');
    checkTokenIds('prompt', [[...req.prompt]], this.model.vocabSize);
    if (req.prompt.length === 0) throw new ArgumentError('prompt: at least one token is needed');
    if (!Number.isInteger(req.maxTokens) || req.maxTokens < 1) throw new ArgumentError(`maxTokens must be an integer >= 1, got ${req.maxTokens}`);
    validateSamplingOptions(req.sampling);
    const waiting = this.queue.length + this.activeCount >= this.o.maxActive;
    if (waiting && this.queue.length >= this.o.maxQueued) {
      throw new QueueFullError(`the server is busy: ${this.activeCount} sequences running and ${this.queue.length} queued (the queue's limit)`);
    }
    const seq = new Sequence(req, this.model.vocabSize);
    this.queue.push(seq);
    this.kick();
    return { cancel: (reason = 'cancelled') => this.cancel(seq, reason) };
  }

  private cancel(seq: Sequence, reason: string): void {
    if (seq.ended) return;
    const q = this.queue.indexOf(seq);
    if (q >= 0) {
      this.queue.splice(q, 1);
      this.end(seq, { kind: 'cancelled', reason, generated: 0 });
    } else {
      seq.cancelReason ??= reason;
    }
  }

  private end(seq: Sequence, e: SequenceEnd): void {
    if (seq.ended) return;
    seq.ended = true;
    try {
      seq.req.onEnd(e);
    } catch {
      // A consumer's failure (e.g. a closed socket) must not stop the other sequences.
    }
  }

  /** Records a sequence's new token; false when the sequence ended with it. */
  private accept(seq: Sequence, id: number): boolean {
    seq.generated++;
    seq.last = id;
    seq.history.push(id);
    const n = seq.generated;
    if (seq.req.eos.has(id)) {
      this.end(seq, { kind: 'finished', reason: 'eos', generated: n });
      return false;
    }
    let stop: boolean | void;
    try {
      stop = seq.req.onToken(id);
    } catch (e) {
      this.end(seq, { kind: 'failed', error: e instanceof Error ? e : new Error(String(e)), generated: n });
      return false;
    }
    if (stop === true) this.end(seq, { kind: 'finished', reason: 'stop', generated: n });
    else if (n >= seq.req.maxTokens) this.end(seq, { kind: 'finished', reason: 'length', generated: n });
    return !seq.ended;
  }

  /** The token of a row: picked by the decoder, or here from its logits (with its history and generator). */
  private pick(seq: Sequence, out: RowOutput): number {
    if (out.kind === 'id') return out.id;
    return pickNextToken(out.logits, seq.history, seq.req.sampling, seq.rng);
  }

  /** Starts the loop unless it runs; on the next turn of the event loop, so that submit() returns at once. */
  private kick(): void {
    if (this.running) return;
    this.running = true;
    this.loop = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.run())
      .catch((e: unknown) => {
        // Not expected (each step's failures are caught inside): end what is running, accept new work.
        this.running = false;
        this.failAll(e);
      });
  }

  private async run(): Promise<void> {
    for (;;) {
      if (this.closed || !(this.active.length || this.queue.length)) {
        this.running = false; // synchronously with the check: a submit() after it starts a new loop
        return;
      }
      try {
        // Prefill what fits; each prompt alone, so that its state is exactly a solo run's.
        while (!this.closed && this.activeCount < this.o.maxActive && this.queue.length) {
          const seq = this.queue.shift()!;
          const entry: Joining = { seq, row: null };
          this.joining.push(entry);
          try {
            const { row, out } = await this.decoder.prefill(seq.req.prompt, seq.pick);
            entry.row = row;
            if (seq.cancelReason === null) this.accept(seq, this.pick(seq, out));
          } catch (e) {
            this.end(seq, { kind: 'failed', error: e instanceof Error ? e : new Error(String(e)), generated: 0 });
          }
          await yieldToEventLoop();
        }
        // Step boundary: finished and cancelled rows leave, prefilled sequences join.
        const keep: number[] = [];
        const next: Sequence[] = [];
        this.active.forEach((seq, i) => {
          if (this.leaves(seq)) return;
          keep.push(i);
          next.push(seq);
        });
        const joined: PrefilledRow[] = [];
        for (const { seq, row } of this.joining) {
          if (!row) continue;
          if (this.leaves(seq)) {
            row.dispose();
            continue;
          }
          joined.push(row);
          next.push(seq);
        }
        this.joining = [];
        this.active = next;
        this.decoder.regroup(keep, joined);
      } catch (e) {
        this.failAll(e);
        continue;
      }
      if (!this.active.length) continue;
      let out: RowOutput[];
      try {
        out = await this.decoder.step(this.active.map((s) => s.last));
      } catch (e) {
        this.failAll(e);
        continue;
      }
      this.o.onStep?.(this.active.length);
      this.active.forEach((seq, i) => {
        if (!seq.ended && seq.cancelReason === null) this.accept(seq, this.pick(seq, out[i]!));
      });
      await yieldToEventLoop();
    }
  }

  /** True when the sequence is to leave the batch now (ending it if it was cancelled). */
  private leaves(seq: Sequence): boolean {
    if (!seq.ended && seq.cancelReason !== null) this.end(seq, { kind: 'cancelled', reason: seq.cancelReason, generated: seq.generated });
    return seq.ended;
  }

  /** After a failed step the batch's state is unknown: every sequence in it ends with the error (null: closed). */
  private failAll(e: unknown): void {
    const error = e === null ? null : e instanceof Error ? e : new Error(String(e));
    for (const j of this.joining) j.row?.dispose();
    for (const seq of [...this.active, ...this.joining.map((j) => j.seq), ...(e === null ? this.queue : [])]) {
      if (error) this.end(seq, { kind: 'failed', error, generated: seq.generated });
      else this.end(seq, { kind: 'cancelled', reason: 'the server is shutting down', generated: seq.generated });
    }
    if (e === null) this.queue.length = 0;
    this.active = [];
    this.joining = [];
    this.decoder.regroup([], []);
  }

  /** Ends every sequence (cancelled: the server is shutting down), waits for the loop, frees the batch. */
  async close(): Promise<void> {
    this.closed = true;
    await this.loop;
    this.failAll(null);
    this.decoder.dispose();
  }
}
