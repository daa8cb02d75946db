// Where an endpoint or a model version came from: the ascendants SageMaker's automatic lineage recorded
// (QueryLineage), each described: the training or processing job, its data sets, the model, the image.
import { call } from '../api.js';
import { enc, error, h, s3Link, table } from '../ui.js';

const tail = (arn) => arn.split('/').pop();

async function describe(vertex) {
  const kind = vertex.Type || vertex.LineageType;
  if (vertex.LineageType === 'TrialComponent') {
    const c = await call('sagemaker', 'DescribeTrialComponent', { TrialComponentName: tail(vertex.Arn) });
    const job = c.Source?.SourceArn || '';
    const m = /:(training|processing|transform)-job\/(.+)$/.exec(job);
    return { kind, what: m ? h('a', { href: `#/${m[1]}/${enc(m[2])}` }, m[2]) : c.DisplayName || c.TrialComponentName };
  }
  if (vertex.LineageType === 'Artifact') {
    const a = await call('sagemaker', 'DescribeArtifact', { ArtifactArn: vertex.Arn });
    const uri = a.Source?.SourceUri || '';
    return { kind, what: uri.startsWith('s3://') ? s3Link(uri) : h('code', {}, uri) };
  }
  if (vertex.LineageType === 'Action') {
    const a = await call('sagemaker', 'DescribeAction', { ActionName: tail(vertex.Arn) });
    return { kind, what: a.Source?.SourceUri || a.ActionName };
  }
  return { kind, what: tail(vertex.Arn) };
}

// start: the entity to walk up from (an endpoint's context, a model package's artifact); null: none recorded.
export async function ascendants(start) {
  if (!start) return h('p', { class: 'muted' }, 'No lineage recorded.');
  try {
    const out = await call('sagemaker', 'QueryLineage', { StartArns: [start], Direction: 'Ascendants', IncludeEdges: false, MaxDepth: 10, MaxResults: 50 });
    const rows = await Promise.all((out.Vertices || []).map(describe));
    return h('div', { 'data-lineage': String(rows.length) }, table([['Kind', (r) => r.kind], ['What', (r) => r.what]], rows, 'No lineage recorded.'));
  } catch (err) {
    return error(err);
  }
}

export async function endpointContext(endpointArn) {
  const out = await call('sagemaker', 'ListContexts', { SourceUri: endpointArn, ContextType: 'Endpoint', MaxResults: 1 });
  return out.ContextSummaries?.[0]?.ContextArn || null;
}

export async function packageArtifact(packageArn) {
  const out = await call('sagemaker', 'ListArtifacts', { SourceUri: packageArn, MaxResults: 1 });
  return out.ArtifactSummaries?.[0]?.ArtifactArn || null;
}
