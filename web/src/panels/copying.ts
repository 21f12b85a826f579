/**
 * 3 · Selective copying: the example's tokens (noise ·, data letters, markers ?), then per model
 * the token it output at each marker, outlined green where it recalled the right data token and red
 * where not; the data tokens in the input are underlined by which models recalled them.
 */
import { rampColour } from '../charts.js';
import type { ComputeClient } from '../client.js';
import { $, deviceRequest, el, numberIn, Status } from '../dom.js';
import type { CopyingResult } from '../protocol.js';

/** Data token id (1 … V-2) as a letter, noise as ·, the marker as ?. */
function symbol(id: number, vocab: number): string {
  if (id === 0) return '·';
  if (id === vocab - 1) return '?';
  return String.fromCharCode(64 + id); // 1 → A
}

function tokenBox(id: number, vocab: number): HTMLElement {
  const cls = id === 0 ? 'tok' : id === vocab - 1 ? 'tok marker' : 'tok data';
  const t = el('span', cls, symbol(id, vocab));
  if (id > 0 && id < vocab - 1) {
    const shade = (id - 1) / Math.max(1, vocab - 3);
    t.style.background = rampColour(shade);
    if (shade > 0.6) t.style.color = '#1d1d1f'; // dark text on the ramp's light end
  }
  t.dataset['id'] = String(id);
  return t;
}

function render(r: CopyingResult): void {
  const input = $('cp-input');
  input.replaceChildren(...r.ids.map((id) => tokenBox(id, r.vocab)));
  // Underline the k-th data token of the input by the models that recalled it at the k-th marker.
  const dataBoxes = [...input.children].filter((c) => c.classList.contains('data')) as HTMLElement[];
  dataBoxes.forEach((b, k) => {
    const who = r.models.filter((m) => m.predictions[k] === r.answers[k]).map((m) => m.name.split(' ')[0]);
    b.title = who.length ? `recalled by ${who.join(' and ')}` : 'recalled by neither';
    b.style.borderBottom = who.length === 2 ? '3px solid #1a9e3a' : who.length === 1 ? `3px dashed ${who[0] === 'S6' ? '#1a9e3a' : '#c98a00'}` : '3px solid transparent';
  });
  const results = $('cp-results');
  results.replaceChildren(
    ...r.models.map((m) => {
      const box = el('div', 'recall');
      box.dataset['model'] = m.name;
      box.dataset['correct'] = String(m.correct);
      box.dataset['predictions'] = JSON.stringify(m.predictions);
      const acc = m.recordedAccuracy === null ? '' : ` · accuracy on its test set: ${(m.recordedAccuracy * 100).toFixed(1)}%`;
      box.append(el('h4', '', `${m.name}: recalled ${m.correct} of ${r.answers.length} on this example${acc}`));
      const row = el('div', 'tokens');
      m.predictions.forEach((p, k) => {
        const t = tokenBox(p, r.vocab);
        t.classList.add(p === r.answers[k] ? 'right' : 'wrong');
        t.title = `marker ${k + 1}: wanted ${symbol(r.answers[k]!, r.vocab)}, output ${symbol(p, r.vocab)}`;
        row.append(t);
      });
      box.append(row);
      return box;
    }),
  );
}

export function mountCopying(client: ComputeClient): void {
  const status = new Status($('cp-status'), $('cp-device'));
  const run = async () => {
    try {
      const seed = numberIn('cp-seed', { integer: true, min: 0 });
      status.running('running both models');
      const r = await client.run<CopyingResult>({ kind: 'copying', seed, device: deviceRequest() }, { onDevice: (d) => status.device(d) });
      render(r);
      status.done(r.models.map((m) => `${m.name.split(' ')[0]} ${m.correct}/${r.answers.length}`).join(' · '));
    } catch (e) {
      status.fail(e);
    }
  };
  $<HTMLButtonElement>('cp-run').onclick = run;
  $<HTMLButtonElement>('cp-next').onclick = () => {
    const s = $<HTMLInputElement>('cp-seed');
    s.value = String((Number(s.value) || 0) + 1);
    void run();
  };
}
