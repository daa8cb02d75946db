// Experiments and their runs (trial components): parameters and metrics side by side, a chart comparing runs.
import { call } from '../api.js';
import { chart } from '../charts.js';
import { enc, error, h, pagedList, section, table, when } from '../ui.js';

export async function experiments(view) {
  view.append(h('h1', {}, 'Experiments'), pagedList(async (next) => {
    const out = await call('sagemaker', 'ListExperiments', { MaxResults: 50, SortBy: 'CreationTime', SortOrder: 'Descending', ...(next ? { NextToken: next } : {}) });
    return { rows: out.ExperimentSummaries, next: out.NextToken };
  }, (rows) => table([
    ['Experiment', (e) => h('a', { href: `#/experiments/${enc(e.ExperimentName)}` }, e.ExperimentName)],
    ['Created', (e) => when(e.CreationTime)], ['Source', (e) => e.ExperimentSource?.SourceType || ''],
  ], rows, 'No experiments.')));
}

const value = (p) => (p === undefined ? '' : p.NumberValue ?? p.StringValue ?? '');

export async function experiment(view, [name]) {
  const summaries = [];
  let token = null;
  do {
    const out = await call('sagemaker', 'ListTrialComponents', { ExperimentName: name, MaxResults: 100, ...(token ? { NextToken: token } : {}) });
    summaries.push(...out.TrialComponentSummaries); token = out.NextToken;
  } while (token && summaries.length < 200);
  const runs = await Promise.all(summaries.slice(0, 100).map((s) => call('sagemaker', 'DescribeTrialComponent', { TrialComponentName: s.TrialComponentName })));
  const params = [...new Set(runs.flatMap((r) => Object.keys(r.Parameters || {})))].filter((p) => !p.startsWith('SageMaker.')).slice(0, 12);
  const metrics = [...new Set(runs.flatMap((r) => (r.Metrics || []).map((m) => m.MetricName)))].slice(0, 12);
  const metric = (r, n) => (r.Metrics || []).find((m) => m.MetricName === n);
  const pick = h('select', { 'aria-label': 'Metric to compare' }, metrics.map((m) => h('option', { value: m }, m)));
  const plot = h('div');
  async function compare() {
    const n = pick.value;
    const rows = runs.filter((r) => metric(r, n));
    // each run's series over its steps (SageMaker Metrics), one line per run; else the runs' last values
    const out = await call('sagemaker-metrics', 'BatchGetMetrics', { MetricQueries: rows.slice(0, 100).map((r) => ({
      MetricName: n, ResourceArn: r.TrialComponentArn, MetricStat: 'Last', Period: 'IterationNumber', XAxisType: 'IterationNumber' })) });
    const series = out.MetricQueryResults.map((q, i) => ({ label: rows[i].DisplayName || rows[i].TrialComponentName, x: q.XAxisValues, y: q.MetricValues }))
      .filter((q) => q.x.length);
    plot.replaceChildren(series.length
      ? chart(`${n} per step`, series, { xTime: false, points: true, width: 640 })
      : chart(`${n} (last value) per run`, [{ label: n, x: rows.map((_, i) => i + 1), y: rows.map((r) => metric(r, n).Last) }], { xTime: false, points: true }));
  }
  pick.addEventListener('change', () => compare().catch((err) => plot.replaceChildren(error(err))));
  view.append(h('h1', {}, h('a', { href: '#/experiments' }, 'Experiments'), ' / ', name),
    section('Runs', table([
      ['Run', (r) => r.DisplayName || r.TrialComponentName], ['Status', (r) => r.Status?.PrimaryStatus || ''],
      ...params.map((p) => [p, (r) => value((r.Parameters || {})[p])]),
      ...metrics.map((m) => [m, (r) => { const x = metric(r, m); return x ? Number(x.Last).toPrecision(4) : ''; }]),
    ], runs, 'No runs.')),
    metrics.length ? section('Compare runs', h('div', { class: 'toolbar' }, pick), plot) : '');
  if (metrics.length) await compare();
}

