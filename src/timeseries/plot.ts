/**
 * The forecast as a standalone SVG: one panel per column with the end of the lookback window
 * (blue), the forecast (red) and, when the file has them, the true values (green, dashed).
 */
import type { ForecastOutput } from './forecast.js';

export function forecastSvg(f: ForecastOutput, o: { historyShown?: number; width?: number; panelHeight?: number } = {}): string {
  const M = f.columns.length;
  const L = f.history.length / M;
  const shown = Math.min(L, o.historyShown ?? Math.max(2 * f.horizon, 96));
  const width = o.width ?? 800;
  const ph = o.panelHeight ?? 140;
  const pad = 56;
  const k = f.truth.length / M;
  const total = shown + f.horizon;
  const x = (i: number) => pad + ((width - pad - 16) * i) / Math.max(1, total - 1);
  const panels: string[] = [];
  for (let j = 0; j < M; j++) {
    const hist = Array.from({ length: shown }, (_, i) => f.history[(L - shown + i) * M + j]!);
    const fc = Array.from({ length: f.horizon }, (_, i) => f.forecast[i * M + j]!);
    const tr = Array.from({ length: k }, (_, i) => f.truth[i * M + j]!);
    const all = [...hist, ...fc, ...tr];
    const lo = Math.min(...all);
    const span = Math.max(...all) - lo || 1;
    const top = 24 + j * (ph + 20);
    const y = (v: number) => top + ph - (ph * (v - lo)) / span;
    // The forecast and truth lines start from the last history point so they join it.
    const path = (vals: number[], from: number) => vals.map((v, i) => `${i ? 'L' : 'M'}${x(from + i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    const last = hist[hist.length - 1]!;
    panels.push(`<g>
<text x="8" y="${top + 12}" font-size="12" font-weight="bold">${escapeXml(f.columns[j]!)}</text>
<text x="${pad - 6}" y="${(top + 10).toFixed(1)}" text-anchor="end" font-size="10">${(lo + span).toPrecision(4)}</text>
<text x="${pad - 6}" y="${(top + ph).toFixed(1)}" text-anchor="end" font-size="10">${lo.toPrecision(4)}</text>
<line x1="${x(shown - 1).toFixed(1)}" y1="${top}" x2="${x(shown - 1).toFixed(1)}" y2="${top + ph}" stroke="#bbb" stroke-dasharray="3,3"/>
<path d="${path(hist, 0)}" fill="none" stroke="#1f77b4" stroke-width="1.2"/>
${k ? `<path d="${path([last, ...tr], shown - 1)}" fill="none" stroke="#2ca02c" stroke-width="1.2" stroke-dasharray="4,2"/>` : ''}
<path d="${path([last, ...fc], shown - 1)}" fill="none" stroke="#d62728" stroke-width="1.5"/>
</g>`);
  }
  const height = 24 + M * (ph + 20) + 10;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${width - 16}" y="14" text-anchor="end" font-size="12"><tspan fill="#1f77b4">history</tspan>  <tspan fill="#d62728">forecast (${f.horizon} steps)</tspan>${k ? '  <tspan fill="#2ca02c">truth</tspan>' : ''}</text>
${panels.join('\n')}
</svg>
`;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}
