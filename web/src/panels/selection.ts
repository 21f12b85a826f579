/**
 * 2 · Selection: per Mamba layer, three rows of character cells — mean Δ, ‖B‖, ‖C‖ — coloured by
 * value (each row scaled to its own range), aligned with the text; hovering a cell shows that
 * token's values in every layer. Each cell keeps its exact value in data-value.
 */
import type uPlot from 'uplot';
import { lineChart, rampColour } from '../charts.js';
import type { ComputeClient } from '../client.js';
import { $, deviceRequest, el, Status } from '../dom.js';
import { modelChoice } from '../model-choice.js';
import type { SelectionResult } from '../protocol.js';

const ROWS = [
  { key: 'deltaMean', label: 'Δ (mean over channels)' },
  { key: 'bNorm', label: '‖B‖' },
  { key: 'cNorm', label: '‖C‖' },
] as const;

const LAYER_COLOURS = ['#2f6fd6', '#d6572f', '#2fa84f', '#9b2fd6', '#c9a100', '#2fc2d6', '#d62f8f', '#555'];

/** How a token shows in a cell: whitespace made visible. */
function shown(token: string): string {
  return token.replace(/\n/g, '↵').replace(/ /g, '␣').replace(/\t/g, '⇥') || '∅';
}

function render(r: SelectionResult, chart: uPlot): void {
  const map = $('sel-heatmap');
  const hover = $('sel-hover');
  map.replaceChildren();
  const cellsAt: HTMLElement[][] = r.tokens.map(() => []);
  r.layers.forEach((layer, l) => {
    const box = el('div', 'layer');
    box.dataset['layer'] = String(layer);
    for (const row of ROWS) {
      const values = r[row.key][l]!;
      const lo = Math.min(...values);
      const hi = Math.max(...values);
      box.append(el('div', 'label', `layer ${layer} · ${row.label} · ${lo.toPrecision(3)} … ${hi.toPrecision(3)}`));
      const cells = el('div', 'cells');
      cells.dataset['row'] = row.key;
      values.forEach((v, t) => {
        const c = el('span', 'cell', shown(r.tokens[t]!));
        c.style.background = rampColour(hi > lo ? (v - lo) / (hi - lo) : 0.5);
        c.dataset['value'] = String(v);
        c.dataset['t'] = String(t);
        cellsAt[t]!.push(c);
        cells.append(c);
      });
      box.append(cells);
    }
    map.append(box);
  });
  let hot: HTMLElement[] = [];
  map.onmouseover = (e) => {
    const t = Number((e.target as HTMLElement).dataset['t']);
    if (!Number.isInteger(t)) return;
    for (const c of hot) c.classList.remove('hot');
    hot = cellsAt[t]!;
    for (const c of hot) c.classList.add('hot');
    const lines = [`token ${t}: ${JSON.stringify(r.tokens[t])}`];
    r.layers.forEach((layer, l) =>
      lines.push(`layer ${layer}:  Δ ${r.deltaMean[l]![t]!.toPrecision(5)}   ‖B‖ ${r.bNorm[l]![t]!.toPrecision(5)}   ‖C‖ ${r.cNorm[l]![t]!.toPrecision(5)}`),
    );
    hover.textContent = lines.join('\n');
  };
  const x = r.tokens.map((_, t) => t);
  chart.setData([x, ...r.layers.map((_, l) => r.deltaMean[l]!)] as uPlot.AlignedData, true);
}

export function mountSelection(client: ComputeClient): { show(text: string): void } {
  const status = new Status($('sel-status'), $('sel-device'));
  let chart: uPlot | null = null;
  let layersInChart = -1;
  const run = async () => {
    const text = $<HTMLTextAreaElement>('sel-text').value;
    status.running('computing Δ, B, C');
    try {
      const r = await client.run<SelectionResult>({ kind: 'selection', ...modelChoice(), text, device: deviceRequest() }, { onDevice: (d) => status.device(d) });
      if (!chart || layersInChart !== r.layers.length) {
        $('sel-chart').replaceChildren();
        chart = lineChart($('sel-chart'), {
          xLabel: 'token',
          yLabel: 'mean Δ',
          series: r.layers.map((layer, l) => ({ label: `layer ${layer}`, stroke: LAYER_COLOURS[l % LAYER_COLOURS.length]! })),
          height: 220,
        });
        layersInChart = r.layers.length;
      }
      render(r, chart);
      status.done(`${r.tokens.length} tokens × ${r.layers.length} layers`);
    } catch (e) {
      status.fail(e);
    }
  };
  $<HTMLButtonElement>('sel-run').onclick = run;
  return {
    show(text) {
      $<HTMLTextAreaElement>('sel-text').value = text;
      void run();
    },
  };
}
