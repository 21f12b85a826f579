/**
 * Progress bars of the `mamba-ts` subcommands, always on stderr so that stdout stays the command's
 * output (JSON lines, CSV, text). On a terminal the bar redraws in place; written to a log or a pipe
 * it prints a line when it starts, every 10 s, and when it stops, so that long runs in CI or under
 * nohup still show how far they got. `--quiet` turns it off.
 */
import { Presets, SingleBar } from 'cli-progress';
import type { ProgressCallback } from '../io/progress.js';
import { DownloadProgressBar } from './download-progress.js';

export interface BarOptions {
  quiet?: boolean;
  /** Default: process.stderr. */
  stream?: NodeJS.WritableStream;
}

/** A bar with cli-progress's `format` ({bar}, {value}, {total}, {eta_formatted} and payload keys), or null when quiet. */
export function progressBar(format: string, o: BarOptions = {}): SingleBar | null {
  if (o.quiet) return null;
  return new SingleBar(
    { format, hideCursor: true, stream: o.stream ?? process.stderr, noTTYOutput: true, notTTYSchedule: 10_000 },
    Presets.shades_classic,
  );
}

/** Checkpoints smaller than this load in about a second: no bar for them. */
export const LOAD_BAR_MIN_BYTES = 64 * 2 ** 20;

/**
 * A `progressCallback` for loading a checkpoint that shows a bar once the checkpoint's tensors
 * reach `minBytes`; call stop() when loading ends (also after a failure).
 */
export function loadProgressBar(o: BarOptions & { minBytes?: number } = {}): { callback: ProgressCallback; stop(): void } {
  let bar: SingleBar | null | undefined;
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  return {
    callback: (p) => {
      if (bar === undefined) {
        bar = p.total >= (o.minBytes ?? LOAD_BAR_MIN_BYTES) ? progressBar('loading {file} |{bar}| {percentage}% | {loadedMiB}/{totalMiB} MiB', o) : null;
        bar?.start(p.total, 0, { file: p.file, loadedMiB: mib(0), totalMiB: mib(p.total) });
      }
      bar?.update(p.loaded, { file: p.file, loadedMiB: mib(p.loaded), totalMiB: mib(p.total) });
    },
    stop: () => bar?.stop(),
  };
}

/**
 * Writes `text` (whole lines) to stdout. While a live bar is drawn on the terminal that stdout also
 * shows, the bar's line is cleared first so the text does not land inside it; the bar redraws below
 * at its next update.
 */
export function printAbove(bar: SingleBar | null, text: string): void {
  if (bar?.isActive && process.stderr.isTTY && process.stdout.isTTY) process.stderr.write('\r\x1b[2K');
  process.stdout.write(text);
}

/**
 * The `progressCallback` of a model or tokenizer load from the command line: Hub downloads get a
 * bar per file, loading a large checkpoint's tensors a bar of its own. Call stop() when the load
 * ends (also after a failure).
 */
export function modelLoadProgress(o: BarOptions = {}): { callback: ProgressCallback; stop(): void } {
  const download = new DownloadProgressBar(o.stream);
  const load = loadProgressBar(o);
  return {
    callback: (p) => {
      if (o.quiet) return;
      if (p.status === 'loading') load.callback(p);
      else download.callback(p);
    },
    stop: () => {
      download.stop();
      load.stop();
    },
  };
}
