/**
 * The latency-percentile chart: one line per measured load, percentile on x, latency on a log scale
 * on y (echo runs answer in milliseconds, ResNet-50 under a queue of 100 in seconds). The x axis
 * stretches the tail as latency charts do (p50, p90 and p99 equally far apart, then the maximum),
 * since the tail is what a queue makes worse. Written as a string template: no chart library for
 * one small, stable picture.
 *
 * @param {{ title: string, subtitle: string, series: Array<{ label: string, points: Array<[number, number]> }> }} o
 */
export function latencyChartSvg(o) {
  const W = 760;
  const legendRows = o.series.length;
  const H = 400 + legendRows * 20;
  const m = { left: 78, right: 24, top: 56, bottom: 64 + legendRows * 20 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const all = o.series.flatMap((s) => s.points.map(([, ms]) => ms)).filter((v) => v > 0);
  const lo = Math.floor(Math.log10(Math.max(Math.min(...all, 1), 0.01)));
  const hi = Math.max(Math.ceil(Math.log10(Math.max(...all, 10))), lo + 1);
  // -log10 of the share not yet answered: p0 → 0, p90 → 1, p99 → 2; the maximum (p100) sits at 2.5.
  const tail = (/** @type {number} */ p) => (p >= 100 ? 2.5 : Math.min(2.5, Math.log10(100 / (100 - p))));
  const x = (/** @type {number} */ p) => m.left + (tail(p) / 2.5) * pw;
  const y = (/** @type {number} */ ms) => m.top + ph - ((Math.log10(Math.max(ms, 10 ** lo)) - lo) / (hi - lo)) * ph;
  const colors = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf'];

  const grid = [];
  for (let e = lo; e <= hi; e++) {
    const v = 10 ** e;
    grid.push(
      `<line x1="${m.left}" x2="${m.left + pw}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#ddd"/>`,
      `<text x="${m.left - 8}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${v >= 1000 ? `${v / 1000} s` : `${+v.toPrecision(1)} ms`}</text>`,
    );
  }
  for (const p of [0, 50, 75, 90, 95, 99, 100]) {
    grid.push(
      `<line x1="${x(p).toFixed(1)}" x2="${x(p).toFixed(1)}" y1="${m.top}" y2="${m.top + ph}" stroke="#eee"/>`,
      `<text x="${x(p).toFixed(1)}" y="${m.top + ph + 18}" text-anchor="middle">${p === 100 ? 'max' : `p${p}`}</text>`,
    );
  }
  const lines = o.series.map((s, i) => {
    const color = colors[i % colors.length];
    const d = s.points.map(([p, ms], j) => `${j === 0 ? 'M' : 'L'}${x(p).toFixed(1)},${y(ms).toFixed(1)}`).join('');
    const ly = m.top + ph + 48 + i * 20;
    const p99 = s.points.find(([p]) => p >= 99)?.[1];
    return [
      `<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`,
      `<line x1="${m.left}" x2="${m.left + 20}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="3"/>`,
      `<text x="${m.left + 26}" y="${ly + 4}">${escapeXml(s.label)}${p99 === undefined ? '' : `, p99 ${formatMs(p99)}`}</text>`,
    ].join('\n');
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">
<rect width="${W}" height="${H}" fill="#fff"/>
<text x="${m.left}" y="22" font-size="15" font-weight="bold">${escapeXml(o.title)}</text>
<text x="${m.left}" y="40" fill="#555">${escapeXml(o.subtitle)}</text>
${grid.join('\n')}
<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>
<text x="${m.left + pw / 2}" y="${m.top + ph + 36}" text-anchor="middle" fill="#555">percentile of requests (tail stretched)</text>
<text transform="translate(18 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle" fill="#555">latency (log scale)</text>
${lines.join('\n')}
</svg>
`;
}

/** @param {number} ms */
export function formatMs(ms) {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 1) return `${+ms.toPrecision(3)} ms`;
  return `${+ms.toPrecision(2)} ms`;
}

/** @param {string} s */
function escapeXml(s) {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c] ?? c);
}
