// Charts drawn with the bundled uPlot (static/vendor/uplot). series: [{label, x: [...seconds], y: [...]}].
import { h } from './ui.js';

const COLORS = ['#1f5fbf', '#c2410c', '#177245', '#7c3aed', '#b3261e', '#0e7490', '#a16207', '#be185d'];

function aligned(series) {
  if (!series.length) return [[]];
  if (series.length === 1) return [series[0].x, series[0].y];
  return window.uPlot.join(series.map((s) => [s.x, s.y]));
}

export function chart(title, series, { width = 560, height = 220, xTime = true, points = false } = {}) {
  const box = h('div', { class: 'chart', 'data-chart': title, 'data-points': 0 });
  const pad = xTime ? 300 : 1;
  let plot = null;
  function draw(list) {
    const total = list.reduce((n, s) => n + s.x.length, 0);
    box.setAttribute('data-points', String(total));
    if (!window.uPlot) { box.textContent = `${title}: ${total} points`; return; }
    if (!total) { box.replaceChildren(h('p', { class: 'muted' }, `${title}: no data points yet`)); plot = null; return; }
    const data = aligned(list);
    if (plot && plot.series.length === list.length + 1) { plot.setData(data); return; }
    box.replaceChildren();
    plot = new window.uPlot({
      title, width: Math.min(width, Math.max(300, (box.parentElement?.clientWidth || width) - 24)), height,
      // one x value: uPlot's own range runs 1,000 days past it; show it with a few minutes (or steps) around
      scales: { x: { time: xTime, range: (u, min, max) => (u.data[0]?.length === 1 ? [u.data[0][0] - pad, u.data[0][0] + pad] : [min, max]) } },
      series: [{}, ...list.map((s, i) => ({
        label: s.label, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: true,
        points: { show: points || s.x.length < 40 },
      }))],
    }, data, box);
  }
  draw(series);
  box.update = draw;
  return box;
}

// CloudWatch GetMetricData results → chart series (x in epoch seconds, ascending).
export function fromMetricData(results) {
  return (results || []).map((r) => {
    const pairs = r.Timestamps.map((t, i) => [Date.parse(t) / 1000, r.Values[i]]).sort((a, b) => a[0] - b[0]);
    return { label: r.Label || r.Id, x: pairs.map((p) => p[0]), y: pairs.map((p) => p[1]) };
  });
}

// A period giving at most ~maxPoints points over [start, end] (CloudWatch: 1, 5, 10, 30 or a multiple of 60).
export function period(start, end, maxPoints = 600) {
  const span = Math.max(1, (end - start) / 1000);
  const raw = Math.ceil(span / maxPoints);
  for (const p of [1, 5, 10, 30, 60]) if (raw <= p) return p;
  return Math.ceil(raw / 60) * 60;
}
