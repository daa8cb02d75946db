// S3: buckets, prefixes, object preview, download and upload.
import { call, objectText, objectUrl, upload } from '../api.js';
import { enc, error, h, kv, pagedList, section, table, when } from '../ui.js';

export async function buckets(view) {
  const out = await call('s3', 'ListBuckets', {});
  view.append(h('h1', {}, 'S3 buckets'), table([
    ['Bucket', (b) => h('a', { href: `#/s3/${enc(b.Name)}/` }, b.Name)], ['Created', (b) => when(b.CreationDate)],
  ], out.Buckets || [], 'No buckets.'));
}

function size(n) {
  if (n === undefined || n === null) return '';
  return n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`;
}

export async function prefix(view, [bucket, path = '']) {
  if (path && !path.endsWith('/')) return object(view, [bucket, path]);
  const crumbs = [h('a', { href: '#/s3' }, 'S3'), ' / ', h('a', { href: `#/s3/${enc(bucket)}/` }, bucket)];
  let acc = '';
  for (const part of path.split('/').filter(Boolean)) {
    acc += `${part}/`;
    crumbs.push(' / ', h('a', { href: `#/s3/${enc(bucket)}/${enc(acc)}` }, part));
  }
  const file = h('input', { type: 'file', 'aria-label': 'File to upload' });
  const note = h('span', { class: 'muted', role: 'status' });
  const list = pagedList(async (token) => {
    const params = { Bucket: bucket, Prefix: path, Delimiter: '/', MaxKeys: 200 };
    if (token) params.ContinuationToken = token;
    const out = await call('s3', 'ListObjectsV2', params);
    const rows = (out.CommonPrefixes || []).map((p) => ({ prefix: p.Prefix })).concat(out.Contents || []);
    return { rows, next: out.IsTruncated ? out.NextContinuationToken : null };
  }, (rows) => table([
    ['Name', (r) => r.prefix ? h('a', { href: `#/s3/${enc(bucket)}/${enc(r.prefix)}` }, r.prefix.slice(path.length))
      : h('a', { href: `#/s3/${enc(bucket)}/${enc(r.Key)}` }, r.Key.slice(path.length))],
    ['Size', (r) => size(r.Size)], ['Modified', (r) => r.prefix ? '' : when(r.LastModified)],
  ], rows, 'Empty.'));
  const send = h('button', { type: 'button', onclick: async () => {
    if (!file.files.length) return;
    const f = file.files[0];
    note.textContent = `Uploading ${f.name}…`;
    try { await upload(bucket, path + f.name, f); note.textContent = `Uploaded ${f.name}`; list.reload(); } catch (err) { note.replaceChildren(error(err)); }
  } }, 'Upload');
  view.append(h('h1', {}, ...crumbs), h('div', { class: 'toolbar' }, file, send, note), list);
}

export async function object(view, [bucket, key]) {
  const head = await call('s3', 'HeadObject', { Bucket: bucket, Key: key });
  const dir = key.includes('/') ? key.slice(0, key.lastIndexOf('/') + 1) : '';
  const preview = h('pre', { class: 'preview', tabindex: '0' }, 'Loading preview…');
  view.append(h('h1', {}, h('a', { href: `#/s3/${enc(bucket)}/${enc(dir)}` }, `${bucket}/${dir}`), key.slice(dir.length)),
    kv([['Size', size(head.ContentLength)], ['Type', head.ContentType], ['Modified', when(head.LastModified)], ['ETag', head.ETag],
      ['Encryption', head.ServerSideEncryption]]),
    h('p', {}, h('a', { href: objectUrl(bucket, key, true), download: key.split('/').pop() }, 'Download')),
    section('Preview (first 64 KiB)', preview));
  const binary = /\.(gz|tar|zip|pkl|bin|npy|parquet|model|pt|pth|jpg|png)$/i.test(key);
  if (binary) { preview.textContent = '(binary object: download it)'; return; }
  try { preview.textContent = await objectText(bucket, key); } catch (err) { preview.replaceChildren(error(err)); }
}
