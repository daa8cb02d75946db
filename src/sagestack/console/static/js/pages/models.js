// Model registry (approve / reject), endpoints (variants, charts, autoscaling, data capture) and
// monitoring schedules (executions and their violations).
import { call, identity, objectText } from '../api.js';
import { chart, fromMetricData } from '../charts.js';
import { enc, error, h, kv, pagedList, s3Link, section, status, table, when } from '../ui.js';
import { ascendants, endpointContext, packageArtifact } from './lineage.js';

export async function registry(view) {
  view.append(h('h1', {}, 'Model registry'), pagedList(async (next) => {
    const out = await call('sagemaker', 'ListModelPackageGroups', { MaxResults: 50, SortBy: 'CreationTime', SortOrder: 'Descending', ...(next ? { NextToken: next } : {}) });
    return { rows: out.ModelPackageGroupSummaryList, next: out.NextToken };
  }, (rows) => table([
    ['Group', (g) => h('a', { href: `#/registry/${enc(g.ModelPackageGroupName)}` }, g.ModelPackageGroupName)],
    ['Status', (g) => status(g.ModelPackageGroupStatus)], ['Created', (g) => when(g.CreationTime)], ['Description', (g) => g.ModelPackageGroupDescription || ''],
  ], rows, 'No model package groups.')));
}

export async function group(view, [name]) {
  const note = h('p', { role: 'status' });
  let list = null;
  function decide(pkg, verdict, comment) {
    return async () => {
      try {
        await call('sagemaker', 'UpdateModelPackage', { ModelPackageArn: pkg.ModelPackageArn, ModelApprovalStatus: verdict, ...(comment.value ? { ApprovalDescription: comment.value } : {}) });
        note.textContent = `Version ${pkg.ModelPackageVersion}: ${verdict}`;
        list.reload();
      } catch (err) { note.replaceChildren(error(err)); }
    };
  }
  list = pagedList(async (next) => {
    const out = await call('sagemaker', 'ListModelPackages', { ModelPackageGroupName: name, MaxResults: 50, SortBy: 'CreationTime', SortOrder: 'Descending', ...(next ? { NextToken: next } : {}) });
    return { rows: out.ModelPackageSummaryList, next: out.NextToken };
  }, (rows) => table([
    ['Version', (p) => h('a', { href: `#/registry/${enc(name)}/${p.ModelPackageVersion}` }, String(p.ModelPackageVersion))],
    ['Status', (p) => status(p.ModelPackageStatus)],
    ['Approval', (p) => status(p.ModelApprovalStatus)], ['Created', (p) => when(p.CreationTime)],
    ['Decide', (p) => {
      const comment = h('input', { placeholder: 'Comment', 'aria-label': `Comment on version ${p.ModelPackageVersion}`, 'data-comment': p.ModelPackageVersion });
      return h('span', { class: 'toolbar' }, comment,
        h('button', { type: 'button', 'data-approve': p.ModelPackageVersion, onclick: decide(p, 'Approved', comment) }, 'Approve'),
        h('button', { type: 'button', class: 'secondary', 'data-reject': p.ModelPackageVersion, onclick: decide(p, 'Rejected', comment) }, 'Reject'));
    }],
  ], rows, 'No versions.'));
  view.append(h('h1', {}, h('a', { href: '#/registry' }, 'Models'), ' / ', name), note, list);
}

export async function version(view, [group, number]) {
  const arn = `arn:aws:sagemaker:${identity.region}:${identity.accountId}:model-package/${group}/${number}`;
  const pkg = await call('sagemaker', 'DescribeModelPackage', { ModelPackageName: arn });
  const spec = pkg.InferenceSpecification || {};
  const metrics = Object.entries(pkg.ModelMetrics || {}).flatMap(([kind, parts]) => Object.entries(parts || {}).map(([part, ref]) => ({ kind, part, ref })));
  view.append(h('h1', {}, h('a', { href: '#/registry' }, 'Models'), ' / ', h('a', { href: `#/registry/${enc(group)}` }, group), ` / version ${number} `,
    status(pkg.ModelApprovalStatus)),
    kv([['ARN', pkg.ModelPackageArn], ['Status', pkg.ModelPackageStatus], ['Created', when(pkg.CreationTime)],
      ['Approval comment', pkg.ApprovalDescription], ['Description', pkg.ModelPackageDescription],
      ['Metadata', Object.entries(pkg.CustomerMetadataProperties || {}).map(([k, v]) => `${k}=${v}`).join(', ')]]),
    section('Containers', table([['Image', (c) => c.Image], ['Model data', (c) => s3Link(c.ModelDataUrl)], ['Framework', (c) => c.Framework || '']], spec.Containers || [])),
    section('Model metrics', table([['Kind', (m) => m.kind], ['Report', (m) => m.part], ['Location', (m) => s3Link(m.ref?.S3Uri)]], metrics, 'No model metrics.')),
    section('Lineage (what it came from)', await ascendants(await packageArtifact(pkg.ModelPackageArn).catch(() => null))));
}

export async function endpoints(view) {
  view.append(h('h1', {}, 'Endpoints'), pagedList(async (next) => {
    const out = await call('sagemaker', 'ListEndpoints', { MaxResults: 50, SortBy: 'CreationTime', SortOrder: 'Descending', ...(next ? { NextToken: next } : {}) });
    return { rows: out.Endpoints, next: out.NextToken };
  }, (rows) => table([
    ['Endpoint', (e) => h('a', { href: `#/endpoints/${enc(e.EndpointName)}` }, e.EndpointName)],
    ['Status', (e) => status(e.EndpointStatus)], ['Created', (e) => when(e.CreationTime)], ['Updated', (e) => when(e.LastModifiedTime)],
  ], rows, 'No endpoints.')));
}

export async function endpoint(view, [name], live) {
  const desc = await call('sagemaker', 'DescribeEndpoint', { EndpointName: name });
  const config = await call('sagemaker', 'DescribeEndpointConfig', { EndpointConfigName: desc.EndpointConfigName }).catch(() => ({}));
  const variants = desc.ProductionVariants || [];
  const types = Object.fromEntries((config.ProductionVariants || []).map((v) => [v.VariantName, v]));
  const charts = h('div', { class: 'grid' });
  const scaling = h('div');
  const capture = desc.DataCaptureConfig;
  view.append(h('h1', {}, name, ' ', status(desc.EndpointStatus)),
    kv([['Config', desc.EndpointConfigName], ['Created', when(desc.CreationTime)], ['Last update', when(desc.LastModifiedTime)],
      ['Failure reason', desc.FailureReason]]),
    section('Variants', table([
      ['Variant', (v) => v.VariantName], ['Instances', (v) => `${v.CurrentInstanceCount ?? '—'} / ${v.DesiredInstanceCount ?? '—'}`],
      ['Type', (v) => types[v.VariantName]?.InstanceType || (types[v.VariantName]?.ServerlessConfig ? 'serverless' : '')],
      ['Weight', (v) => v.CurrentWeight], ['Model', (v) => types[v.VariantName]?.ModelName || ''],
      ['Image', (v) => (v.DeployedImages || []).map((i) => i.SpecifiedImage).join(', ')],
    ], variants)),
    section('Invocations and latency (last hour)', charts),
    section('Autoscaling activity', scaling),
    section('Data capture', capture ? kv([['Enabled', String(capture.EnableCapture)], ['Sampling %', capture.CurrentSamplingPercentage],
      ['Destination', s3Link(capture.DestinationS3Uri)]]) : h('p', { class: 'muted' }, 'Not capturing.')),
    section('Lineage (what it came from)', await ascendants(await endpointContext(desc.EndpointArn).catch(() => null))),
    section('Update history', table([['When', (r) => when(r[1])], ['What', (r) => r[0]]],
      [['Created', desc.CreationTime], ['Last modified', desc.LastModifiedTime]].concat(desc.PendingDeploymentSummary
        ? [[`Deploying ${desc.PendingDeploymentSummary.EndpointConfigName}`, desc.PendingDeploymentSummary.StartTime]] : []))));
  const built = {};
  async function refresh() {
    const end = Date.now(); const start = end - 3600e3;
    const queries = [];
    variants.forEach((v, i) => {
      const dims = [{ Name: 'EndpointName', Value: name }, { Name: 'VariantName', Value: v.VariantName }];
      queries.push({ Id: `i${i}`, Label: `${v.VariantName} invocations`, MetricStat: { Metric: { Namespace: 'AWS/SageMaker', MetricName: 'Invocations', Dimensions: dims }, Period: 60, Stat: 'Sum' } });
      queries.push({ Id: `l${i}`, Label: `${v.VariantName} latency (µs)`, MetricStat: { Metric: { Namespace: 'AWS/SageMaker', MetricName: 'ModelLatency', Dimensions: dims }, Period: 60, Stat: 'Average' } });
    });
    if (!queries.length) return;
    const out = await call('cloudwatch', 'GetMetricData', { StartTime: new Date(start).toISOString(), EndTime: new Date(end).toISOString(), MetricDataQueries: queries });
    const series = fromMetricData(out.MetricDataResults);
    for (const kind of ['invocations', 'latency']) {
      const mine = series.filter((s) => s.label.includes(kind));
      if (built[kind]) built[kind].update(mine); else { built[kind] = chart(kind === 'invocations' ? 'Invocations / minute' : 'Model latency (µs)', mine, { width: 520, points: true }); charts.append(built[kind]); }
    }
    const acts = [];
    for (const v of variants) {
      const a = await call('application-autoscaling', 'DescribeScalingActivities', { ServiceNamespace: 'sagemaker', ResourceId: `endpoint/${name}/variant/${v.VariantName}`, MaxResults: 20 });
      acts.push(...(a.ScalingActivities || []));
    }
    scaling.replaceChildren(table([['Started', (a) => when(a.StartTime)], ['Status', (a) => status(a.StatusCode)], ['Description', (a) => a.Description], ['Cause', (a) => a.Cause || '']], acts, 'No scaling activity.'));
  }
  await refresh().catch((err) => charts.append(error(err)));
  live.every(10000, () => refresh());
}

export async function schedules(view) {
  view.append(h('h1', {}, 'Monitoring schedules'), pagedList(async (next) => {
    const out = await call('sagemaker', 'ListMonitoringSchedules', { MaxResults: 50, ...(next ? { NextToken: next } : {}) });
    return { rows: out.MonitoringScheduleSummaries, next: out.NextToken };
  }, (rows) => table([
    ['Schedule', (s) => h('a', { href: `#/monitoring/${enc(s.MonitoringScheduleName)}` }, s.MonitoringScheduleName)],
    ['Status', (s) => status(s.MonitoringScheduleStatus)], ['Type', (s) => s.MonitoringType || ''],
    ['Endpoint', (s) => s.EndpointName ? h('a', { href: `#/endpoints/${enc(s.EndpointName)}` }, s.EndpointName) : ''],
  ], rows, 'No monitoring schedules.')));
}

async function violations(arn) {
  const job = await call('sagemaker', 'DescribeProcessingJob', { ProcessingJobName: arn.split('/').pop() });
  const uri = job.ProcessingOutputConfig?.Outputs?.[0]?.S3Output?.S3Uri;
  const m = /^s3:\/\/([^/]+)\/(.*)$/.exec(uri || '');
  if (!m) return [];
  const text = await objectText(m[1], `${m[2].replace(/\/$/, '')}/constraint_violations.json`, 1 << 20).catch(() => null);
  return text ? JSON.parse(text).violations || [] : [];
}

export async function schedule(view, [name]) {
  const desc = await call('sagemaker', 'DescribeMonitoringSchedule', { MonitoringScheduleName: name });
  const out = await call('sagemaker', 'ListMonitoringExecutions', { MonitoringScheduleName: name, SortBy: 'ScheduledTime', SortOrder: 'Descending', MaxResults: 20 });
  const runs = out.MonitoringExecutionSummaries || [];
  const found = h('div');
  view.append(h('h1', {}, name, ' ', status(desc.MonitoringScheduleStatus)),
    kv([['Type', desc.MonitoringType], ['Endpoint', desc.EndpointName], ['Cron', desc.MonitoringScheduleConfig?.ScheduleConfig?.ScheduleExpression],
      ['Definition', desc.MonitoringScheduleConfig?.MonitoringJobDefinitionName], ['Failure reason', desc.FailureReason]]),
    section('Executions', table([['Scheduled', (r) => when(r.ScheduledTime)], ['Status', (r) => status(r.MonitoringExecutionStatus)],
      ['Job', (r) => r.ProcessingJobArn ? h('a', { href: `#/processing/${enc(r.ProcessingJobArn.split('/').pop())}` }, 'open') : ''],
      ['Reason', (r) => r.FailureReason || '']], runs, 'No executions yet.')),
    section('Violations (latest executions)', found));
  const rows = [];
  for (const r of runs.filter((x) => x.ProcessingJobArn).slice(0, 5)) {
    for (const v of await violations(r.ProcessingJobArn).catch(() => [])) rows.push({ ...v, when: r.ScheduledTime });
  }
  found.replaceChildren(table([['Execution', (v) => when(v.when)], ['Feature', (v) => v.feature_name || v.metric_name || ''],
    ['Check', (v) => v.constraint_check_type || ''], ['Description', (v) => v.description || '']], rows, 'No violations.'));
}
