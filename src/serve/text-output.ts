/**
 * A sequence's text as its tokens arrive, with OpenAI's stop strings: the text ends before the
 * first stop string, which is itself left out. Text that could still become a stop string (a
 * suffix that is a stop string's prefix) is held back until the next token decides, so a stream
 * never sends what the finished text would not contain. Decoding is incremental (TextStreamer:
 * characters split across tokens come out whole).
 */
import { TextStreamer, type TokenDecoder } from '../generation/streamer.js';

export class TextOutput {
  private readonly streamer: TextStreamer;
  /** Text decoded so far (up to the stop string once one was met). */
  private text = '';
  /** Length of `text` already handed out by take(). */
  private taken = 0;
  /** No more text: a stop string was met (stopHit) or finish() was called. */
  private stopped = false;
  private stopHit = false;
  private readonly longestStop: number;

  constructor(
    tokenizer: TokenDecoder,
    private readonly stops: readonly string[],
  ) {
    this.streamer = new TextStreamer(tokenizer, { onText: (t) => this.append(t) });
    this.longestStop = Math.max(0, ...stops.map((s) => s.length));
  }

  /** Adds a token; true when the text now contains a stop string (the sequence should end). */
  push(id: number): boolean {
    if (!this.stopped) this.streamer.put([id]);
    return this.stopped;
  }

  /** Flushes what decoding held back (the sequence ended). */
  finish(): void {
    if (!this.stopped) this.streamer.end();
    this.stopped = true;
  }

  /** True once a stop string was met. */
  get metStop(): boolean {
    return this.stopHit;
  }

  /** The text not yet taken that is certain to be part of the result. */
  take(): string {
    const end = this.stopped ? this.text.length : this.text.length - this.heldBack();
    const out = this.text.slice(this.taken, end);
    this.taken = Math.max(this.taken, end);
    return out;
  }

  /** The whole text so far (after finish(): the result). */
  get full(): string {
    return this.text;
  }

  private append(chunk: string): void {
    if (this.stopped) return;
    const from = Math.max(0, this.text.length - this.longestStop + 1);
    this.text += chunk;
    let at = -1;
    for (const s of this.stops) {
      const i = this.text.indexOf(s, from);
      if (i >= 0 && (at < 0 || i < at)) at = i;
    }
    if (at >= 0) {
      this.text = this.text.slice(0, at);
      this.stopped = true;
      this.stopHit = true;
    }
  }

  /** Length of the longest suffix of the untaken text that a stop string starts with. */
  private heldBack(): number {
    let held = 0;
    const free = this.text.length - this.taken;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, free); n > held; n--) {
        if (this.text.endsWith(s.slice(0, n))) {
          held = n;
          break;
        }
      }
    }
    return held;
  }
}
