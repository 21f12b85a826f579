/** 5 · Train: a character-level Mamba trained on the pasted text, the loss curve drawn live. */
import type uPlot from 'uplot';
import { lineChart } from '../charts.js';
import type { ComputeClient } from '../client.js';
import { $, deviceRequest, numberIn, Status } from '../dom.js';
import type { TrainResult } from '../protocol.js';

/** The text the box starts with: the opening of Sonnet 18 (public domain). */
const DEFAULT_TEXT = `Shall I compare thee to a summer's day?
Thou art more lovely and more temperate:
Rough winds do shake the darling buds of May,
And summer's lease hath all too short a date;
Sometime too hot the eye of heaven shines,
And often is his gold complexion dimm'd;
And every fair from fair sometime declines,
By chance or nature's changing course untrimm'd;
But thy eternal summer shall not fade,
Nor lose possession of that fair thou ow'st;
Nor shall death brag thou wander'st in his shade,
When in eternal lines to time thou grow'st:
So long as men can breathe or eyes can see,
So long lives this, and this gives life to thee.
`;

export function mountTrain(client: ComputeClient): void {
  const status = new Status($('tr-status'), $('tr-device'));
  const text = $<HTMLTextAreaElement>('tr-text');
  text.value = DEFAULT_TEXT;
  const run = $<HTMLButtonElement>('tr-run');
  const stop = $<HTMLButtonElement>('tr-stop');
  const stats = $('tr-stats');
  let chart: uPlot | null = null;

  run.onclick = async () => {
    const steps: number[] = [];
    const losses: number[] = [];
    chart ??= lineChart($('tr-chart'), { xLabel: 'step', yLabel: 'loss (nats/char)', series: [{ label: 'training loss', stroke: '#2f6fd6' }], height: 260 });
    chart.setData([[], []], true);
    $('tr-sample-out').textContent = '';
    stats.textContent = '';
    run.disabled = true;
    stop.disabled = false;
    const t0 = performance.now();
    try {
      const job = {
        kind: 'train' as const,
        text: text.value,
        steps: numberIn('tr-steps', { min: 1, max: 100_000, integer: true }),
        hiddenSize: numberIn('tr-hidden', { min: 4, max: 1024, integer: true }),
        layers: numberIn('tr-layers', { min: 1, max: 24, integer: true }),
        seqLen: numberIn('tr-seq', { min: 2, max: 4096, integer: true }),
        batchSize: numberIn('tr-batch', { min: 1, max: 256, integer: true }),
        lr: numberIn('tr-lr', { min: 1e-6, max: 1 }),
        seed: 0,
        sampleChars: numberIn('tr-sample', { min: 0, max: 4096, integer: true }),
        device: deviceRequest(),
      };
      status.running('training');
      const r = await client.run<TrainResult>(job, {
        onDevice: (d) => status.device(d),
        onStatus: (t) => status.text(t),
        onLoss: (step, loss) => {
          steps.push(step);
          losses.push(loss);
          chart!.setData([steps, losses], true);
          const perSecond = step / ((performance.now() - t0) / 1000);
          status.text(`step ${step}/${job.steps} · loss ${loss.toFixed(4)} · ${perSecond.toFixed(1)} steps/s`);
        },
      });
      stats.dataset['losses'] = JSON.stringify(r.losses);
      const first = r.losses[0]!;
      const lastLoss = r.losses[r.losses.length - 1]!;
      stats.textContent = `${r.parameters.toLocaleString()} parameters · ${r.losses.length} steps in ${r.seconds.toFixed(1)} s (${(r.losses.length / r.seconds).toFixed(1)} steps/s) · loss ${first.toFixed(3)} → ${lastLoss.toFixed(3)}`;
      $('tr-sample-out').textContent = r.sample;
      status.done('trained');
    } catch (e) {
      status.fail(e);
    } finally {
      run.disabled = false;
      stop.disabled = true;
    }
  };
  stop.onclick = () => client.stop();
}
