/** A progress bar on stderr for files downloading from the Hub, one file after another. */
import { Presets, SingleBar } from 'cli-progress';
import type { DownloadProgress } from '../io/progress.js';

const mib = (b: number) => (b / 2 ** 20).toFixed(1);

export class DownloadProgressBar {
  private bar: SingleBar | null = null;

  constructor(private readonly stream: NodeJS.WritableStream = process.stderr) {}

  /** Pass as `progressCallback`. cli-progress draws only on a terminal, so pipes stay clean. */
  readonly callback = (p: DownloadProgress): void => {
    const size = { size: `${mib(p.loaded)}/${mib(p.total)} MiB` };
    if (p.status === 'download') {
      this.stop();
      this.bar = new SingleBar(
        { format: `${p.repo} ${p.file} |{bar}| {percentage}% {size}`, hideCursor: true, stream: this.stream },
        Presets.shades_classic,
      );
      this.bar.start(p.total, p.loaded, size);
    } else {
      this.bar?.update(p.loaded, size);
      if (p.status === 'done') this.stop();
    }
  };

  /** Ends the current bar (also when a download failed, so the cursor comes back). */
  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}
