/** `mamba-ts train` for configs with `"task": "image-classification"` (ViM2 on MNIST): progress, then accuracy and wall time. */
import { Presets, SingleBar } from 'cli-progress';
import { parseImageTrainConfig } from '../train/image-train-config.js';
import { runImageTraining } from '../train/image-trainer.js';

export async function trainImageClassifier(raw: unknown, flags: { config: string; resume: boolean; overwrite: boolean; quiet: boolean }): Promise<void> {
  const c = parseImageTrainConfig(raw, flags.config);
  if (flags.resume) process.stderr.write('note: --resume is not supported for image classification; training starts from scratch\n');
  const bar = flags.quiet
    ? null
    : new SingleBar({ format: 'step {value}/{total} epoch {epoch} |{bar}| loss {loss} | test acc {acc} | {ips} img/s | ETA {eta_formatted}', hideCursor: true }, Presets.shades_classic);
  let acc = '-';
  bar?.start(1, 0, { epoch: 1, loss: '-', acc, ips: '-' });
  try {
    const r = await runImageTraining(c, {
      source: flags.config,
      overwrite: flags.overwrite,
      onProgress: (p) => {
        if (p.testAccuracy !== undefined) acc = `${(100 * p.testAccuracy).toFixed(2)}%`;
        bar?.setTotal(p.steps);
        bar?.update(p.step, { epoch: p.epoch, loss: p.loss.toFixed(4), acc, ips: p.imagesPerSecond.toFixed(0) });
      },
    });
    bar?.stop();
    process.stdout.write(
      `trained ViM2 (${r.parameters.toLocaleString('en-US')} parameters) for ${r.steps} steps on ${r.device}; test accuracy ${(100 * r.testAccuracy).toFixed(2)}% on ${c.data.testSize} images; wall time ${r.seconds.toFixed(1)} s; checkpoint ${r.checkpoint}\n`,
    );
  } finally {
    bar?.stop();
  }
}
