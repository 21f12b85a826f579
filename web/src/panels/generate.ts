/** 1 · Generate: streams text from a Mamba/Jamba model with the sampling options, tokens/s and device shown. */
import type { ComputeClient } from '../client.js';
import { $, deviceRequest, numberIn, Status } from '../dom.js';
import { modelChoice } from '../model-choice.js';
import type { GenerateResult, Sampling } from '../protocol.js';

export function mountGenerate(client: ComputeClient, toSelection: (text: string) => void): void {
  const status = new Status($('gen-status'), $('gen-device'));
  const run = $<HTMLButtonElement>('gen-run');
  const stop = $<HTMLButtonElement>('gen-stop');
  const toSel = $<HTMLButtonElement>('gen-to-selection');
  const out = $('gen-text');
  const rate = $('gen-rate');
  let last: string | null = null;

  function sampling(): Sampling {
    const seedText = $<HTMLInputElement>('gen-seed').value.trim();
    return {
      doSample: $<HTMLInputElement>('gen-sample').checked,
      temperature: numberIn('gen-temperature', { min: 1e-6 }),
      topK: numberIn('gen-topk', { min: 0, integer: true }),
      topP: numberIn('gen-topp', { min: 0, max: 1 }),
      minP: numberIn('gen-minp', { min: 0, max: 1 }),
      repetitionPenalty: numberIn('gen-rep', { min: 1e-6 }),
      ...(seedText === '' ? {} : { seed: numberIn('gen-seed', { integer: true }) }),
    };
  }

  const showRate = (tokens: number, perSecond: number) => {
    rate.textContent = `${tokens} tokens · ${perSecond.toFixed(1)} tokens/s`;
    rate.dataset['value'] = String(perSecond);
  };

  run.onclick = async () => {
    const choice = modelChoice();
    const prompt = $<HTMLTextAreaElement>('gen-prompt').value;
    out.textContent = '';
    $('gen-prompt-shown').textContent = prompt;
    rate.textContent = '';
    run.disabled = true;
    stop.disabled = false;
    toSel.disabled = true;
    try {
      status.running('starting');
      const r = await client.run<GenerateResult>(
        { kind: 'generate', ...choice, prompt, maxNewTokens: numberIn('gen-max', { min: 1, max: 4096, integer: true }), sampling: sampling(), device: deviceRequest() },
        {
          onDevice: (d) => status.device(d),
          onStatus: (t) => status.text(t),
          onText: (t, n, r) => {
            out.textContent += t;
            showRate(n, r);
          },
        },
      );
      // The streamed text is replaced by the decoded result, which holds any bytes still buffered.
      out.textContent = r.text;
      out.dataset['ids'] = JSON.stringify(r.newIds);
      showRate(r.newIds.length, r.tokensPerSecond);
      last = prompt + r.text;
      toSel.disabled = false;
      status.done(`done in ${r.seconds.toFixed(2)} s`);
    } catch (e) {
      status.fail(e);
    } finally {
      run.disabled = false;
      stop.disabled = true;
    }
  };
  stop.onclick = () => client.stop();
  toSel.onclick = () => {
    if (last !== null) toSelection(last);
  };
}
