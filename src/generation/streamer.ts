/**
 * Text as it is generated, like HF's TextStreamer: the token list is decoded as it grows and only
 * the new text is emitted. A trailing U+FFFD means a multi-byte character whose bytes are split
 * across tokens; it is held back until the rest arrives, so characters come out whole. Also an
 * async iterable of the emitted chunks. Knows nothing of models: anything with `decode` works.
 */
import { checkOptionKeys, optionKeys } from '../options.js';

export interface TextStreamerOptions {
  /** Do not emit the prompt (the first put() after construction or end()). */
  skipPrompt?: boolean;
  /** Called with each chunk of new text, as soon as it is known. */
  onText?: (text: string) => void;
}

/** The keys of TextStreamerOptions (checked against the interface at compile time). */
export const TEXT_STREAMER_OPTION_KEYS = optionKeys<TextStreamerOptions>({ skipPrompt: true, onText: true });

/** What the streamer needs of a tokenizer. */
export interface TokenDecoder {
  decode(ids: number[]): string;
}

const REPLACEMENT = 0xfffd;

export class TextStreamer implements AsyncIterable<string> {
  private cache: number[] = [];
  /** Length of decode(cache) already emitted. */
  private printed = 0;
  private nextIsPrompt = true;
  private readonly queue: string[] = [];
  private ended = false;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly tokenizer: TokenDecoder,
    private readonly o: TextStreamerOptions = {},
  ) {
    checkOptionKeys('TextStreamer', o, TEXT_STREAMER_OPTION_KEYS);
  }

  /** The prompt first, then the new token(s) of each step (HF's BaseStreamer protocol). */
  put(ids: readonly number[]): void {
    if (this.o.skipPrompt && this.nextIsPrompt) {
      this.nextIsPrompt = false;
      return;
    }
    this.nextIsPrompt = false;
    for (const id of ids) this.cache.push(id);
    const text = this.tokenizer.decode(this.cache);
    if (text.endsWith('\n')) {
      // As HF: a finished line starts a fresh cache, so decoding stays O(line), not O(output).
      this.emit(text.slice(this.printed));
      this.cache = [];
      this.printed = 0;
      return;
    }
    let stable = text.length;
    while (stable > this.printed && text.charCodeAt(stable - 1) === REPLACEMENT) stable--;
    this.emit(text.slice(this.printed, stable));
    this.printed = Math.max(this.printed, stable);
  }

  /** Flushes what was held back (an incomplete character stays U+FFFD) and ends the iteration. */
  end(): void {
    if (this.cache.length) this.emit(this.tokenizer.decode(this.cache).slice(this.printed));
    this.cache = [];
    this.printed = 0;
    this.nextIsPrompt = true; // as HF: a reused streamer skips the next prompt too
    this.ended = true;
    this.wake();
  }

  private emit(text: string): void {
    if (!text) return;
    this.o.onText?.(text);
    if (!this.ended) this.queue.push(text); // iteration is over after the first end()
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /**
   * The chunks, from the first put() (they are buffered until read) until end(). Meant for one
   * consumer: several iterators share, not copy, the chunks.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<string, void, undefined> {
    for (;;) {
      const chunk = this.queue.shift();
      if (chunk !== undefined) {
        yield chunk;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }
}
