// Pipelines: list, a pipeline's executions (start one), an execution's DAG with live step statuses.
import { call } from '../api.js';
import { duration, enc, error, h, kv, pagedList, section, status, table, when } from '../ui.js';

const SVG = 'http://www.w3.org/2000/svg';
const token = () => (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`);
const TERMINAL = ['Succeeded', 'Failed', 'Stopped'];

export async function pipelines(view) {
  view.append(h('h1', {}, 'Pipelines'), pagedList(async (next) => {
    const out = await call('sagemaker', 'ListPipelines', { MaxResults: 50, SortBy: 'CreationTime', SortOrder: 'Descending', ...(next ? { NextToken: next } : {}) });
    return { rows: out.PipelineSummaries, next: out.NextToken };
  }, (rows) => table([
    ['Pipeline', (p) => h('a', { href: `#/pipelines/${enc(p.PipelineName)}` }, p.PipelineName)],
    ['Created', (p) => when(p.CreationTime)], ['Last execution', (p) => when(p.LastExecutionTime)],
  ], rows, 'No pipelines.')));
}

export const executionLink = (arn, label) => h('a', { href: `#/executions/${enc(arn)}` }, label || arn.split('/').pop());

export async function pipeline(view, [name]) {
  const desc = await call('sagemaker', 'DescribePipeline', { PipelineName: name });
  const definition = JSON.parse(desc.PipelineDefinition || '{}');
  const inputs = (definition.Parameters || []).map((p) => ({ p, input: h('input', { name: p.Name, value: p.DefaultValue ?? '', 'aria-label': p.Name }) }));
  const note = h('span', { role: 'status' });
  const list = pagedList(async (next) => {
    const out = await call('sagemaker', 'ListPipelineExecutions', { PipelineName: name, MaxResults: 50, SortBy: 'CreationTime', SortOrder: 'Descending', ...(next ? { NextToken: next } : {}) });
    return { rows: out.PipelineExecutionSummaries, next: out.NextToken };
  }, (rows) => table([
    ['Execution', (e) => executionLink(e.PipelineExecutionArn, e.PipelineExecutionDisplayName)],
    ['Status', (e) => status(e.PipelineExecutionStatus)], ['Started', (e) => when(e.StartTime)],
  ], rows, 'No executions yet.'));
  const start = h('form', { class: 'toolbar', onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const out = await call('sagemaker', 'StartPipelineExecution', { PipelineName: name, ClientRequestToken: token(),
        PipelineParameters: inputs.filter(({ input, p }) => input.value !== String(p.DefaultValue ?? '')).map(({ p, input }) => ({ Name: p.Name, Value: input.value })) });
      location.hash = `#/executions/${enc(out.PipelineExecutionArn)}`;
    } catch (err) { note.replaceChildren(error(err)); }
  } }, inputs.map(({ p, input }) => h('label', {}, `${p.Name} (${p.Type}) `, input)), h('button', { type: 'submit' }, 'Start execution'), note);
  view.append(h('h1', {}, name), kv([['ARN', desc.PipelineArn], ['Status', desc.PipelineStatus], ['Created', when(desc.CreationTime)],
    ['Role', desc.RoleArn], ['Description', desc.PipelineDescription]]), section('Start', start), section('Executions', list));
}

// Steps (Condition branches flattened) and their edges: DependsOn, data references, condition branches.
export function graph(definition) {
  const nodes = new Map(); const edges = [];
  function visit(step, parent) {
    nodes.set(step.Name, step);
    if (parent) edges.push([parent, step.Name]);
    for (const d of step.DependsOn || []) edges.push([d, step.Name]);
    const refs = JSON.stringify(step.Arguments || {}).match(/"Steps\.([^".]+)/g) || [];
    for (const r of refs) edges.push([r.slice(7), step.Name]);
    for (const branch of [step.Arguments?.IfSteps, step.Arguments?.ElseSteps]) for (const child of branch || []) visit(child, step.Name);
  }
  for (const step of definition.Steps || []) visit(step, null);
  const unique = [...new Set(edges.filter(([a, b]) => nodes.has(a) && a !== b).map((e) => e.join('\u0000')))].map((e) => e.split('\u0000'));
  const depth = new Map();
  const parents = (n) => unique.filter(([, b]) => b === n).map(([a]) => a);
  function level(n, seen = new Set()) {
    if (depth.has(n)) return depth.get(n);
    if (seen.has(n)) return 0;
    seen.add(n);
    const d = Math.max(-1, ...parents(n).map((p) => level(p, seen))) + 1;
    depth.set(n, d); return d;
  }
  for (const n of nodes.keys()) level(n);
  return { nodes, edges: unique, depth };
}

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

const FILL = { Succeeded: '#dcf2e3', Failed: '#fbe1df', Executing: '#dde8fa', Starting: '#dde8fa', Stopping: '#fbefd5', Stopped: '#fbefd5' };

function stepJob(step) {
  const m = step?.Metadata || {};
  const arn = m.TrainingJob?.Arn || m.ProcessingJob?.Arn || m.TransformJob?.Arn || m.TuningJob?.Arn;
  if (!arn) {
    if (m.RegisterModel?.Arn) return '#/registry';
    if (m.Model?.Arn) return null;
    return null;
  }
  const kind = m.TrainingJob ? 'training' : m.ProcessingJob ? 'processing' : m.TransformJob ? 'transform' : 'tuning';
  return `#/${kind}/${enc(arn.split('/').pop())}`;
}

export function drawDag(definition, steps) {
  const { nodes, edges, depth } = graph(definition);
  const byName = new Map(steps.map((s) => [s.StepName, s]));
  const columns = [];
  for (const [n, d] of depth) (columns[d] ||= []).push(n);
  const W = 170; const H = 44; const GX = 60; const GY = 22;
  const pos = new Map();
  columns.forEach((col, x) => col.forEach((n, y) => pos.set(n, [20 + x * (W + GX), 20 + y * (H + GY)])));
  const width = 40 + columns.length * (W + GX); const height = 40 + Math.max(1, ...columns.map((c) => c.length)) * (H + GY);
  const root = svg('svg', { class: 'dag', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'Pipeline steps' },
    svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: '10', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto' },
      svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#8792a8', stroke: 'none' }))));
  for (const [a, b] of edges) {
    const [x1, y1] = pos.get(a); const [x2, y2] = pos.get(b);
    root.append(svg('path', { d: `M${x1 + W},${y1 + H / 2} C${x1 + W + GX / 2},${y1 + H / 2} ${x2 - GX / 2},${y2 + H / 2} ${x2},${y2 + H / 2}` }));
  }
  for (const [name, step] of nodes) {
    const [x, y] = pos.get(name);
    const run = byName.get(name);
    const state = run?.StepStatus || 'NotStarted';
    const body = svg('g', { class: 'node', 'data-step': name, 'data-status': state },
      svg('rect', { x, y, width: W, height: H, fill: FILL[state] || '#fff' }),
      svg('text', { x: x + 8, y: y + 17 }, `${name}`.slice(0, 24)),
      svg('text', { x: x + 8, y: y + 34, fill: '#5b6475' }, `${step.Type} · ${state}`));
    body.append(svg('title', {}, `${name} (${step.Type}): ${state}${run?.FailureReason ? ' — ' + run.FailureReason : ''}`));
    const href = stepJob(run);
    root.append(href ? svg('a', { href, tabindex: '0' }, body) : body);
  }
  return root;
}

export async function execution(view, [arn], live) {
  const holder = h('div');
  view.append(holder);
  let definition = null;
  let last = null;
  async function refresh() {
    const [desc, steps, params] = await Promise.all([
      call('sagemaker', 'DescribePipelineExecution', { PipelineExecutionArn: arn }),
      call('sagemaker', 'ListPipelineExecutionSteps', { PipelineExecutionArn: arn, MaxResults: 100 }),
      call('sagemaker', 'ListPipelineParametersForExecution', { PipelineExecutionArn: arn, MaxResults: 100 }),
    ]);
    if (!definition) definition = JSON.parse((await call('sagemaker', 'DescribePipelineDefinitionForExecution', { PipelineExecutionArn: arn })).PipelineDefinition);
    const note = h('span', { role: 'status' });
    const act = (op) => async () => {
      try { await call('sagemaker', op, { PipelineExecutionArn: arn, ClientRequestToken: token() }); await refresh(); } catch (err) { note.replaceChildren(error(err)); }
    };
    const s = desc.PipelineExecutionStatus;
    const pipelineName = desc.PipelineArn.split('/').pop();
    holder.replaceChildren(
      h('h1', {}, h('a', { href: `#/pipelines/${enc(pipelineName)}` }, pipelineName), ' · ', desc.PipelineExecutionDisplayName || arn.split('/').pop(), ' ', status(s)),
      h('div', { class: 'toolbar' },
        s === 'Executing' ? h('button', { type: 'button', onclick: act('StopPipelineExecution') }, 'Stop') : '',
        ['Failed', 'Stopped'].includes(s) ? h('button', { type: 'button', onclick: act('RetryPipelineExecution') }, 'Retry') : '', note),
      kv([['Started', when(desc.CreationTime)], ['Duration', duration(desc.CreationTime, TERMINAL.includes(s) ? desc.LastModifiedTime : null)],
        ['Failure reason', desc.FailureReason]]),
      section('Steps', drawDag(definition, steps.PipelineExecutionSteps)),
      h('div', { class: 'grid' },
        section('Parameters', table([['Name', (p) => p.Name], ['Value', (p) => p.Value]], params.PipelineParameters || [])),
        section('Step details', table([['Step', (st) => st.StepName], ['Status', (st) => status(st.StepStatus)],
          ['Job', (st) => { const href = stepJob(st); return href ? h('a', { href }, 'open') : ''; }],
          ['Reason', (st) => st.FailureReason || '']], steps.PipelineExecutionSteps))));
    last = s;
  }
  await refresh();
  live.every(3000, async () => { if (!TERMINAL.includes(last)) await refresh(); });
}
