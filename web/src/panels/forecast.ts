/**
 * 4 · Forecast: lookback, forecast and truth of one column around the window's end, re-forecast as
 * the slider moves (the latest position wins; positions passed over while a forecast runs are
 * skipped). MSE / MAE over every column and step with truth, as `mamba-ts forecast`'s CSV gives them.
 */
import type uPlot from 'uplot';
import { lineChart } from '../charts.js';
import type { ComputeClient } from '../client.js';
import { $, deviceRequest, Status } from '../dom.js';
import type { ForecastResult } from '../protocol.js';

/** History for the last SHOWN_HISTORY steps only: 512 hours would flatten the forecast. */
const SHOWN_HISTORY = 192;

function setStat(id: string, v: number | null): void {
  const e = $(id);
  e.textContent = v === null ? 'no truth' : v.toFixed(4);
  e.dataset['value'] = v === null ? '' : String(v);
}

export function mountForecast(client: ComputeClient): { activate(): void } {
  const status = new Status($('fc-status'), $('fc-device'));
  const slider = $<HTMLInputElement>('fc-end');
  const columnSel = $<HTMLSelectElement>('fc-column');
  let chart: uPlot | null = null;
  let last: ForecastResult | null = null;
  let running = false;
  let wanted: number | null = null;
  let started = false;

  function draw(r: ForecastResult): void {
    const M = r.columns.length;
    const j = Math.max(0, columnSel.selectedIndex);
    const shownHist = Math.min(SHOWN_HISTORY, r.lookback);
    const x: number[] = [];
    const hist: (number | null)[] = [];
    const fc: (number | null)[] = [];
    const truth: (number | null)[] = [];
    for (let t = -shownHist; t < r.horizon; t++) {
      x.push(t);
      if (t < 0) {
        hist.push(r.history[(r.lookback + t) * M + j]!);
        fc.push(t === -1 ? r.history[(r.lookback - 1) * M + j]! : null); // joins the forecast to the history
        truth.push(null);
      } else {
        hist.push(null);
        fc.push(r.forecast[t * M + j]!);
        truth.push(t * M + j < r.truth.length ? r.truth[t * M + j]! : null);
      }
    }
    chart ??= lineChart($('fc-chart'), {
      xLabel: 'hours from the window end',
      yLabel: 'value',
      series: [
        { label: 'lookback', stroke: '#555' },
        { label: 'forecast', stroke: '#d6572f' },
        { label: 'truth', stroke: '#2f6fd6', dash: [5, 3] },
      ],
      height: 300,
    });
    chart.setData([x, hist, fc, truth] as uPlot.AlignedData, true);
  }

  async function forecastAt(end: number): Promise<void> {
    wanted = end;
    if (running) return;
    running = true;
    try {
      while (wanted !== null) {
        const e = wanted;
        wanted = null;
        status.running(`forecasting from row ${e}`);
        const r = await client.run<ForecastResult>({ kind: 'forecast', end: e, device: deviceRequest() }, { onDevice: (d) => status.device(d) });
        if (!last) {
          slider.min = String(r.lookback);
          slider.max = String(r.rows);
          columnSel.replaceChildren(...r.columns.map((c) => new Option(c, c)));
          columnSel.value = r.columns.includes('OT') ? 'OT' : r.columns[0]!;
        }
        last = r;
        slider.value = String(r.end);
        slider.dataset['end'] = String(r.end);
        $('fc-date').textContent = `${r.historyIndex[r.lookback - 1] ?? ''} (row ${r.end})`;
        setStat('fc-mse', r.mse);
        setStat('fc-mae', r.mae);
        setStat('fc-mse-std', r.mseStandardized);
        draw(r);
        if (wanted === null) status.done(`forecast ${r.horizon} steps of ${r.columns.length} columns from row ${r.end}`);
      }
    } catch (e) {
      status.fail(e);
    } finally {
      running = false;
    }
  }

  slider.oninput = () => void forecastAt(Number(slider.value));
  columnSel.onchange = () => {
    if (last) draw(last);
  };
  return {
    // The first visit loads the model and forecasts at the first window whose truth is complete.
    activate() {
      if (started) return;
      started = true;
      void forecastAt(Number(slider.dataset['initial'] ?? 512));
    },
  };
}
