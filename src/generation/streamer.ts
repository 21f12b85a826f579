/**
 * Text as it is generated, like HF's TextStreamer: the growing token list is decoded and only newly
 * completed text is emitted. Text ending in U+FFFD (a multi-byte character split across tokens) is
 * held back until the rest arrives. Also an async iterable of the text chunks.
 */
import type { Streamer } from './generate.js';

export interface TextStreamerOptions {
  /** Do not emit the prompt (the first put()). */
  skipPrompt?: boolean;
  onText?: (text: string) => void;
}

export class TextStreamer implements Streamer, AsyncIterable<string> {
  private ids: number[] = [];
  private printed = 0;
  private sawPrompt = false;
  private queue: string[] = [];
  private ended = false;
  private wake: (() => void) | null = null;

  constructor(
    private readonly tokenizer: { decode(ids: number[]): string },
    private readonly o: TextStreamerOptions = {},
  ) {}

  put(ids: number[]): void {
    if (this.o.skipPrompt && !this.sawPrompt) {
      this.sawPrompt = true;
      return;
    }
    this.sawPrompt = true;
    this.ids.push(...ids);
    const text = this.tokenizer.decode(this.ids);
    if (text.endsWith('\uFFFD')) return; // wait for the rest of the character
    this.emit(text.slice(this.printed));
    this.printed = text.length;
  }

  end(): void {
    if (this.ended) return;
    if (this.ids.length) this.emit(this.tokenizer.decode(this.ids).slice(this.printed));
    this.ids = [];
    this.printed = 0;
    this.ended = true;
    this.wake?.();
  }

  private emit(text: string): void {
    if (!text) return;
    this.o.onText?.(text);
    this.queue.push(text);
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<string> {
    for (;;) {
      if (this.queue.length) {
        yield this.queue.shift()!;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = null;
    }
  }
}
