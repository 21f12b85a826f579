/** The loss curve as a small standalone SVG (training and validation loss against step). */

export interface LossPoint {
  step: number;
  loss: number;
}

export function lossCurveSvg(train: LossPoint[], valid: LossPoint[], width = 640, height = 360): string {
  const all = [...train, ...valid];
  const pad = 48;
  const maxStep = Math.max(1, ...all.map((p) => p.step));
  const lo = Math.min(...all.map((p) => p.loss));
  const hi = Math.max(...all.map((p) => p.loss));
  const span = hi - lo || 1;
  const x = (s: number) => pad + ((width - 2 * pad) * s) / maxStep;
  const y = (l: number) => height - pad - ((height - 2 * pad) * (l - lo)) / span;
  const path = (pts: LossPoint[]) => pts.map((p, i) => `${i ? 'L' : 'M'}${x(p.step).toFixed(1)},${y(p.loss).toFixed(1)}`).join(' ');
  const ticks = [lo, lo + span / 2, hi]
    .map((v) => `<text x="${pad - 6}" y="${y(v).toFixed(1)}" text-anchor="end" font-size="11">${v.toFixed(3)}</text>`)
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<line x1="${pad}" y1="${height - pad}" x2="${width - pad}" y2="${height - pad}" stroke="#444"/>
<line x1="${pad}" y1="${pad}" x2="${pad}" y2="${height - pad}" stroke="#444"/>
${ticks}
<text x="${width / 2}" y="${height - 12}" text-anchor="middle" font-size="12">step (last ${maxStep})</text>
<path d="${path(train)}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>
<path d="${path(valid)}" fill="none" stroke="#d62728" stroke-width="2"/>
<text x="${width - pad}" y="${pad - 20}" text-anchor="end" font-size="12" fill="#1f77b4">training loss</text>
<text x="${width - pad}" y="${pad - 6}" text-anchor="end" font-size="12" fill="#d62728">validation loss</text>
</svg>
`;
}
