// Overview, training, processing, transform and tuning jobs.
import { call } from '../api.js';
import { chart, fromMetricData, period } from '../charts.js';
import { debounce, duration, enc, error, h, kv, pagedList, s3Link, section, status, table, when } from '../ui.js';

const PAGE = 50;
const STATUSES = ['', 'InProgress', 'Completed', 'Failed', 'Stopping', 'Stopped'];

// kind → how its operations and fields are named
export const KINDS = {
  training: { title: 'Training jobs', list: 'ListTrainingJobs', rows: 'TrainingJobSummaries', name: 'TrainingJobName',
    status: 'TrainingJobStatus', describe: 'DescribeTrainingJob', stop: 'StopTrainingJob', logGroup: '/aws/sagemaker/TrainingJobs' },
  processing: { title: 'Processing jobs', list: 'ListProcessingJobs', rows: 'ProcessingJobSummaries', name: 'ProcessingJobName',
    status: 'ProcessingJobStatus', describe: 'DescribeProcessingJob', stop: 'StopProcessingJob', logGroup: '/aws/sagemaker/ProcessingJobs' },
  transform: { title: 'Transform jobs', list: 'ListTransformJobs', rows: 'TransformJobSummaries', name: 'TransformJobName',
    status: 'TransformJobStatus', describe: 'DescribeTransformJob', stop: 'StopTransformJob', logGroup: '/aws/sagemaker/TransformJobs' },
  tuning: { title: 'Tuning jobs', list: 'ListHyperParameterTuningJobs', rows: 'HyperParameterTuningJobSummaries',
    name: 'HyperParameterTuningJobName', status: 'HyperParameterTuningJobStatus', describe: 'DescribeHyperParameterTuningJob',
    stop: 'StopHyperParameterTuningJob' },
};

export const jobLink = (kind, name) => h('a', { href: `#/${kind}/${enc(name)}` }, name);

export async function overview(view, args, live) {
  view.append(h('h1', {}, 'Overview'));
  const running = h('div'); const failed = h('div');
  view.append(section('Running now', running), section('Recent failures', failed));
  async function refresh() {
    const found = []; const failures = [];
    await Promise.all(Object.entries(KINDS).map(async ([kind, k]) => {
      const [run, bad] = await Promise.all([
        call('sagemaker', k.list, { StatusEquals: 'InProgress', MaxResults: 20 }),
        call('sagemaker', k.list, { StatusEquals: 'Failed', MaxResults: 10, SortBy: 'CreationTime', SortOrder: 'Descending' }),
      ]);
      for (const r of run[k.rows]) found.push({ kind, name: r[k.name], status: r[k.status], start: r.CreationTime });
      for (const r of bad[k.rows]) failures.push({ kind, name: r[k.name], status: r[k.status], start: r.CreationTime, reason: r.FailureReason });
    }));
    const endpoints = await call('sagemaker', 'ListEndpoints', { MaxResults: 50 });
    for (const e of endpoints.Endpoints) {
      if (['Creating', 'Updating', 'SystemUpdating', 'RollingBack', 'Deleting'].includes(e.EndpointStatus))
        found.push({ kind: 'endpoints', name: e.EndpointName, status: e.EndpointStatus, start: e.CreationTime });
      if (e.EndpointStatus === 'Failed') failures.push({ kind: 'endpoints', name: e.EndpointName, status: 'Failed', start: e.CreationTime });
    }
    // pipeline executions of the ten most recently created pipelines
    const pipelines = await call('sagemaker', 'ListPipelines', { MaxResults: 10, SortBy: 'CreationTime', SortOrder: 'Descending' });
    await Promise.all(pipelines.PipelineSummaries.map(async (p) => {
      const runs = await call('sagemaker', 'ListPipelineExecutions', { PipelineName: p.PipelineName, MaxResults: 5, SortBy: 'CreationTime', SortOrder: 'Descending' });
      for (const e of runs.PipelineExecutionSummaries) {
        const row = { kind: 'executions', name: e.PipelineExecutionArn, label: `${p.PipelineName} · ${e.PipelineExecutionDisplayName || e.PipelineExecutionArn.split('/').pop()}`,
          status: e.PipelineExecutionStatus, start: e.StartTime, reason: e.PipelineExecutionFailureReason };
        if (e.PipelineExecutionStatus === 'Executing') found.push(row);
        if (e.PipelineExecutionStatus === 'Failed') failures.push(row);
      }
    }));
    const cols = [['Kind', (r) => (r.kind === 'executions' ? 'pipeline' : r.kind)],
      ['Name', (r) => (r.label ? h('a', { href: `#/executions/${enc(r.name)}` }, r.label) : jobLink(r.kind, r.name))], ['Status', (r) => status(r.status)],
      ['Created', (r) => when(r.start)]];
    running.replaceChildren(table(cols.concat([['Running for', (r) => duration(r.start)]]), found, 'Nothing is running.'));
    failures.sort((a, b) => String(b.start).localeCompare(String(a.start)));
    failed.replaceChildren(table(cols.concat([['Reason', (r) => r.reason || '']]), failures.slice(0, 20), 'No failures.'));
  }
  await refresh().catch((err) => running.replaceChildren(error(err)));
  live.every(10000, refresh);
}

export function jobList(kind) {
  const k = KINDS[kind];
  return async (view) => {
    const name = h('input', { type: 'search', placeholder: 'Name contains', 'data-filter': 'name', 'aria-label': 'Name contains' });
    const state = h('select', { 'aria-label': 'Status', 'data-filter': 'status' }, STATUSES.map((s) => h('option', { value: s }, s || 'Any status')));
    const order = h('select', { 'aria-label': 'Order' }, h('option', { value: 'Descending' }, 'Newest first'), h('option', { value: 'Ascending' }, 'Oldest first'));
    const list = pagedList(async (token) => {
      const params = { MaxResults: PAGE, SortBy: 'CreationTime', SortOrder: order.value };
      if (token) params.NextToken = token;
      if (name.value) params.NameContains = name.value;
      if (state.value) params.StatusEquals = state.value;
      const out = await call('sagemaker', k.list, params);
      return { rows: out[k.rows], next: out.NextToken };
    }, (rows) => table([
      ['Name', (r) => jobLink(kind, r[k.name])],
      ['Status', (r) => status(r[k.status])],
      ['Created', (r) => when(r.CreationTime)],
      ['Duration', (r) => duration(r.CreationTime, r.TrainingEndTime || r.ProcessingEndTime || r.TransformEndTime || r.HyperParameterTuningEndTime)],
    ], rows, `No ${k.title.toLowerCase()}.`));
    const again = debounce(() => list.reload());
    name.addEventListener('input', again); state.addEventListener('change', again); order.addEventListener('change', again);
    view.append(h('h1', {}, k.title), h('div', { class: 'toolbar' }, name, state, order), list);
  };
}

// The live tail of a job's CloudWatch log streams (those named "<job>/…").
export function logTail(group, prefix, live) {
  const pre = h('pre', { class: 'log', tabindex: '0', 'aria-label': 'Log' }, '');
  const box = h('div', {}, pre);
  const tokens = {};
  let lines = 0;
  async function poll() {
    const streams = await call('logs', 'DescribeLogStreams', { logGroupName: group, logStreamNamePrefix: prefix });
    for (const s of streams.logStreams || []) {
      const params = { logGroupName: group, logStreamName: s.logStreamName, startFromHead: true, limit: 1000 };
      if (tokens[s.logStreamName]) params.nextToken = tokens[s.logStreamName];
      const out = await call('logs', 'GetLogEvents', params);
      tokens[s.logStreamName] = out.nextForwardToken;
      if (out.events.length) {
        pre.append(out.events.map((e) => `${s.logStreamName.split('/').pop()} | ${e.message}\n`).join(''));
        lines += out.events.length;
        pre.scrollTop = pre.scrollHeight;
      }
    }
    box.setAttribute('data-lines', String(lines));
    if (!lines) pre.textContent = '(no log events yet)';
  }
  poll().catch((err) => { if (err.code !== 'ResourceNotFoundException') box.append(error(err)); });
  live.every(3000, () => poll().catch(() => {}));
  return box;
}

async function metricCharts(desc, live, box) {
  const name = desc.TrainingJobName;
  const host = `${name}/algo-1`;
  const names = new Set((desc.AlgorithmSpecification?.MetricDefinitions || []).map((m) => m.Name));
  const charts = {};
  async function poll() {
    const listed = await call('cloudwatch', 'ListMetrics', { Namespace: '/aws/sagemaker/TrainingJobs', Dimensions: [{ Name: 'Host', Value: host }] });
    for (const m of listed.Metrics || []) names.add(m.MetricName);
    const wanted = [...names].slice(0, 12);
    if (!wanted.length) { box.replaceChildren(h('p', { class: 'muted' }, 'No metrics.')); return; }
    const start = Date.parse(desc.CreationTime) - 60000;
    const end = Date.now() + 60000;
    const out = await call('cloudwatch', 'GetMetricData', {
      StartTime: new Date(start).toISOString(), EndTime: new Date(end).toISOString(), ScanBy: 'TimestampAscending',
      MetricDataQueries: wanted.map((metric, i) => ({ Id: `m${i}`, Label: metric, ReturnData: true,
        MetricStat: { Metric: { Namespace: '/aws/sagemaker/TrainingJobs', MetricName: metric, Dimensions: [{ Name: 'Host', Value: host }] },
          Period: period(start, end), Stat: 'Average' } })),
    });
    const series = fromMetricData(out.MetricDataResults);
    for (const s of series) {
      if (charts[s.label]) charts[s.label].update([s]);
      else { charts[s.label] = chart(s.label, [s], { width: 400, height: 180 }); box.append(charts[s.label]); }
    }
  }
  await poll().catch((err) => box.append(error(err)));
  return poll;
}

export async function trainingJob(view, [name], live) {
  let desc = await call('sagemaker', 'DescribeTrainingJob', { TrainingJobName: name });
  const head = h('div');
  const timeline = h('ol', { class: 'timeline' });
  const metrics = h('div', { class: 'grid', id: 'metric-charts' });
  const final = h('div');
  function paint() {
    head.replaceChildren(h('h1', {}, name, ' ', status(desc.TrainingJobStatus)), kv([
      ['Secondary status', desc.SecondaryStatus], ['Created', when(desc.CreationTime)],
      ['Duration', duration(desc.TrainingStartTime || desc.CreationTime, desc.TrainingEndTime)],
      ['Instance', `${desc.ResourceConfig?.InstanceCount} × ${desc.ResourceConfig?.InstanceType}`],
      ['Image', desc.AlgorithmSpecification?.TrainingImage || desc.AlgorithmSpecification?.AlgorithmName],
      ['Failure reason', desc.FailureReason], ['Model artifacts', s3Link(desc.ModelArtifacts?.S3ModelArtifacts)],
      ['Output path', s3Link(desc.OutputDataConfig?.S3OutputPath)],
      ['Tuning job', desc.TuningJobArn ? jobLink('tuning', desc.TuningJobArn.split('/').pop()) : undefined],
    ]), desc.TrainingJobStatus === 'InProgress'
      ? h('button', { type: 'button', onclick: () => call('sagemaker', 'StopTrainingJob', { TrainingJobName: name }).catch((err) => head.append(error(err))) }, 'Stop') : '');
    timeline.replaceChildren(...(desc.SecondaryStatusTransitions || []).map((t) => h('li', { 'data-status': t.Status },
      h('strong', {}, t.Status), ` ${when(t.StartTime)}${t.EndTime ? ' → ' + when(t.EndTime) : ''} `, h('span', { class: 'muted' }, t.StatusMessage || ''))));
    final.replaceChildren(table([['Metric', (m) => m.MetricName], ['Value', (m) => m.Value], ['At', (m) => when(m.Timestamp)]],
      desc.FinalMetricDataList || [], 'No final metrics yet.'));
  }
  paint();
  view.append(head,
    h('div', { class: 'grid' }, section('Status timeline', timeline),
      section('Hyperparameters', table([['Name', (r) => r[0]], ['Value', (r) => r[1]]], Object.entries(desc.HyperParameters || {})))),
    section('Channels', table([['Channel', (c) => c.ChannelName], ['Source', (c) => s3Link(c.DataSource?.S3DataSource?.S3Uri || c.DataSource?.FileSystemDataSource?.DirectoryPath)],
      ['Content type', (c) => c.ContentType || '']], desc.InputDataConfig || [])),
    section('Metrics', metrics, h('h2', {}, 'Final metrics'), final),
    section('Log', logTail('/aws/sagemaker/TrainingJobs', `${name}/`, live)));
  const pollMetrics = await metricCharts(desc, live, metrics);
  let settled = false;
  live.every(3000, async () => {
    if (settled) return;
    desc = await call('sagemaker', 'DescribeTrainingJob', { TrainingJobName: name });
    paint();
    await pollMetrics();
    settled = ['Completed', 'Failed', 'Stopped'].includes(desc.TrainingJobStatus);
  });
}

function genericJob(kind, extra) {
  const k = KINDS[kind];
  return async (view, [name], live) => {
    const desc = await call('sagemaker', k.describe, { [k.name]: name });
    view.append(h('h1', {}, name, ' ', status(desc[k.status])),
      desc[k.status] === 'InProgress' ? h('button', { type: 'button', onclick: () => call('sagemaker', k.stop, { [k.name]: name })
        .then(() => live.rerender()).catch((err) => view.append(error(err))) }, 'Stop') : '',
      kv([['Created', when(desc.CreationTime)], ['Failure reason', desc.FailureReason], ['Exit message', desc.ExitMessage]]),
      ...extra(desc),
      section('Log', logTail(k.logGroup, `${name}/`, live)));
    if (desc[k.status] === 'InProgress') live.every(5000, async () => {
      const now = await call('sagemaker', k.describe, { [k.name]: name });
      if (now[k.status] !== desc[k.status]) live.rerender();
    });
  };
}

export const processingJob = genericJob('processing', (d) => [
  section('Inputs', table([['Name', (i) => i.InputName], ['Source', (i) => s3Link(i.S3Input?.S3Uri)], ['Local path', (i) => i.S3Input?.LocalPath || '']], d.ProcessingInputs || [])),
  section('Outputs', table([['Name', (o) => o.OutputName], ['Destination', (o) => s3Link(o.S3Output?.S3Uri)]], d.ProcessingOutputConfig?.Outputs || [])),
  section('Container', kv([['Image', d.AppSpecification?.ImageUri], ['Entrypoint', (d.AppSpecification?.ContainerEntrypoint || []).join(' ')],
    ['Arguments', (d.AppSpecification?.ContainerArguments || []).join(' ')]])),
]);

export const transformJob = genericJob('transform', (d) => [
  section('Data', kv([['Model', d.ModelName], ['Input', s3Link(d.TransformInput?.DataSource?.S3DataSource?.S3Uri)],
    ['Output', s3Link(d.TransformOutput?.S3OutputPath)], ['Strategy', d.BatchStrategy]])),
]);

export async function tuningJob(view, [name], live) {
  const desc = await call('sagemaker', 'DescribeHyperParameterTuningJob', { HyperParameterTuningJobName: name });
  const objective = desc.HyperParameterTuningJobConfig?.HyperParameterTuningJobObjective || {};
  const children = [];
  let token = null;
  do {
    const out = await call('sagemaker', 'ListTrainingJobsForHyperParameterTuningJob', { HyperParameterTuningJobName: name, MaxResults: 100, ...(token ? { NextToken: token } : {}) });
    children.push(...out.TrainingJobSummaries); token = out.NextToken;
  } while (token && children.length < 1000);
  const best = desc.BestTrainingJob;
  const done = children.filter((c) => c.FinalHyperParameterTuningJobObjectiveMetric && c.TrainingEndTime)
    .sort((a, b) => Date.parse(a.TrainingEndTime) - Date.parse(b.TrainingEndTime));
  view.append(h('h1', {}, name, ' ', status(desc.HyperParameterTuningJobStatus)),
    kv([['Strategy', desc.HyperParameterTuningJobConfig?.Strategy], ['Objective', `${objective.Type} ${objective.MetricName}`],
      ['Created', when(desc.CreationTime)], ['Counts', JSON.stringify(desc.TrainingJobStatusCounters || {})],
      ['Best job', best ? jobLink('training', best.TrainingJobName) : null],
      ['Best objective', best?.FinalHyperParameterTuningJobObjectiveMetric?.Value], ['Failure reason', desc.FailureReason]]),
    section('Objective per training job', chart(objective.MetricName || 'objective', [{ label: objective.MetricName || 'objective',
      x: done.map((c) => Date.parse(c.TrainingEndTime) / 1000), y: done.map((c) => c.FinalHyperParameterTuningJobObjectiveMetric.Value) }], { points: true })),
    section('Training jobs', table([
      ['Name', (c) => h('span', {}, jobLink('training', c.TrainingJobName), best && best.TrainingJobName === c.TrainingJobName ? ' ★ best' : '')],
      ['Status', (c) => status(c.TrainingJobStatus)],
      ['Objective', (c) => c.FinalHyperParameterTuningJobObjectiveMetric?.Value ?? '—'],
      ['Hyperparameters', (c) => Object.entries(c.TunedHyperParameters || {}).map(([k, v]) => `${k}=${v}`).join(', ')],
      ['Ended', (c) => when(c.TrainingEndTime)]], children)));
  if (desc.HyperParameterTuningJobStatus === 'InProgress') live.every(5000, () => live.rerender());
}
