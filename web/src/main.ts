/**
 * The playground page: tabs for the five parts, each driving the compute worker (worker.ts) and
 * drawing what comes back. The page itself never runs a model, so it stays responsive.
 */
import { ComputeClient } from './client.js';
import { $ } from './dom.js';
import { mountCopying } from './panels/copying.js';
import { mountForecast } from './panels/forecast.js';
import { mountGenerate } from './panels/generate.js';
import { mountSelection } from './panels/selection.js';
import { mountTrain } from './panels/train.js';
import { watchModelChoice } from './model-choice.js';

declare global {
  interface Window {
    /** Set once the page is wired up (tests and the load-time measurement wait on it). */
    playgroundReady?: number;
  }
}

const client = new ComputeClient(new URL('./worker.js', import.meta.url).href);

function showTab(name: string): void {
  for (const b of document.querySelectorAll<HTMLButtonElement>('#tabs button')) b.classList.toggle('active', b.dataset['tab'] === name);
  for (const p of document.querySelectorAll<HTMLElement>('.panel')) p.classList.toggle('active', p.id === name);
  if (name === 'forecast') forecast.activate();
  history.replaceState(null, '', `#${name}`);
}

const selection = mountSelection(client);
watchModelChoice();
mountGenerate(client, (text) => {
  showTab('selection');
  selection.show(text);
});
mountCopying(client);
const forecast = mountForecast(client);
mountTrain(client);

for (const b of document.querySelectorAll<HTMLButtonElement>('#tabs button')) b.onclick = () => showTab(b.dataset['tab']!);
if (!('gpu' in navigator)) $('gpu-note').textContent = 'This browser offers no WebGPU here: everything runs on the CPU.';
const start = location.hash.slice(1);
if (start && document.getElementById(start)?.classList.contains('panel')) showTab(start);
window.playgroundReady = performance.now();
