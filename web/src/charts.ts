/** Line charts (uPlot): one per use, sized to its container. */
import uPlot from 'uplot';

export interface LineSeries {
  label: string;
  stroke: string;
  dash?: number[];
}

/** A uPlot chart in `el` with an x series and `series`, all empty until setData. */
export function lineChart(el: HTMLElement, o: { xLabel: string; yLabel: string; series: LineSeries[]; height?: number; timeAxis?: boolean }): uPlot {
  const width = Math.max(320, el.clientWidth || 720);
  const chart = new uPlot(
    {
      width,
      height: o.height ?? 260,
      scales: { x: { time: o.timeAxis ?? false } },
      axes: [{ label: o.xLabel }, { label: o.yLabel }],
      series: [{ label: o.xLabel }, ...o.series.map((s) => ({ label: s.label, stroke: s.stroke, width: 1.5, dash: s.dash, spanGaps: false }))],
      legend: { live: true },
    },
    [[], ...o.series.map(() => [])],
    el,
  );
  new ResizeObserver(() => {
    const w = el.clientWidth;
    if (w > 0 && Math.abs(w - chart.width) > 4) chart.setSize({ width: w, height: chart.height });
  }).observe(el);
  return chart;
}

/** Colour for t in [0, 1] on a dark-blue → teal → yellow ramp (viridis-like), as CSS rgb(). */
export function rampColour(t: number): string {
  const stops = [
    [68, 1, 84],
    [59, 82, 139],
    [33, 145, 140],
    [94, 201, 98],
    [253, 231, 37],
  ] as const;
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const c = stops[i]!.map((v, k) => Math.round(v + (stops[i + 1]![k]! - v) * f));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}
