// Container images (ECR repositories): what the local engine holds under ECR-style names, for your own
// containers (docs/containers.md).
import { call } from '../api.js';
import { enc, h, kv, pagedList, section, table, when } from '../ui.js';

const size = (bytes) => (bytes === undefined ? '—' : bytes < 1e6 ? `${(bytes / 1e3).toFixed(1)} KB` : `${(bytes / 1e6).toFixed(1)} MB`);

export async function repositories(view) {
  view.append(h('h1', {}, 'Images'),
    h('p', { class: 'muted' }, 'Repositories hold the images your own containers run: the container engine\'s images tagged ',
      h('code', {}, '<account>.dkr.ecr.<region>.amazonaws.com/<name>:<tag>'), ', and the repositories CreateRepository made.'),
    pagedList(async (next) => {
      const out = await call('ecr', 'DescribeRepositories', { maxResults: 50, ...(next ? { nextToken: next } : {}) });
      return { rows: out.repositories, next: out.nextToken };
    }, (rows) => table([
      ['Repository', (r) => h('a', { href: `#/images/${enc(r.repositoryName)}` }, r.repositoryName)],
      ['URI', (r) => h('code', {}, r.repositoryUri)], ['Created', (r) => when(r.createdAt)],
    ], rows, 'No repositories: tag an image with its ECR URI in the container engine, or create one.')));
}

export async function repository(view, [name]) {
  const [repo] = (await call('ecr', 'DescribeRepositories', { repositoryNames: [name] })).repositories;
  view.append(h('h1', {}, h('a', { href: '#/images' }, 'Images'), ' / ', name),
    section('Repository', kv([['URI', h('code', {}, repo.repositoryUri)], ['ARN', repo.repositoryArn],
      ['Created', when(repo.createdAt)], ['Tag mutability', repo.imageTagMutability]])),
    section('Images', pagedList(async (next) => {
      const out = await call('ecr', 'DescribeImages', { repositoryName: name, maxResults: 50, ...(next ? { nextToken: next } : {}) });
      return { rows: out.imageDetails, next: out.nextToken };
    }, (rows) => table([
      ['Tags', (i) => (i.imageTags || []).join(', ') || '(untagged)'],
      ['Digest', (i) => h('code', { title: i.imageDigest }, (i.imageDigest || '').slice(0, 19))],
      ['Image URI (for a job or model)', (i) => ((i.imageTags || []).length ? h('code', {}, `${repo.repositoryUri}:${i.imageTags[0]}`) : '—')],
      ['Size', (i) => size(i.imageSizeInBytes)], ['Pushed', (i) => when(i.imagePushedAt)],
    ], rows, 'No images in this repository yet.'))));
}
