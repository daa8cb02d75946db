// The console's one door to the data: AWS operations run by the server as the signed-in identity.
let csrf = null;
export let identity = null;

export class ApiError extends Error {
  constructor(status, code, message) { super(message || code); this.status = status; this.code = code; }
}

async function parse(response) {
  let doc = {};
  try { doc = await response.json(); } catch (e) { doc = {}; }
  if (!response.ok) throw new ApiError(response.status, doc.__type || String(response.status), doc.message);
  return doc;
}

export async function currentSession() {
  const response = await fetch('session', { credentials: 'same-origin' });
  if (response.status === 401) return null;
  identity = await parse(response);
  csrf = identity.csrfToken;
  return identity;
}

export async function signIn(form) {
  const response = await fetch('session', {
    method: 'POST', credentials: 'same-origin',
    headers: { 'content-type': 'application/json' }, body: JSON.stringify(form),
  });
  identity = await parse(response);
  csrf = identity.csrfToken;
  return identity;
}

export async function signOut() {
  await fetch('session', { method: 'DELETE', credentials: 'same-origin', headers: { 'x-sagestack-csrf': csrf || '' } });
  identity = null; csrf = null;
}

// call('sagemaker', 'ListTrainingJobs', {MaxResults: 50}) → the operation's output (throws ApiError).
export async function call(service, operation, params = {}) {
  const response = await fetch(`api/${service}/${operation}`, {
    method: 'POST', credentials: 'same-origin',
    headers: { 'content-type': 'application/json', 'x-sagestack-csrf': csrf || '' },
    body: JSON.stringify(params),
  });
  return parse(response);
}

export function objectUrl(bucket, key, download) {
  const q = new URLSearchParams({ Bucket: bucket, Key: key });
  if (download) q.set('download', '1');
  return `api/s3/GetObject?${q}`;
}

export async function objectText(bucket, key, bytes = 65536) {
  const q = new URLSearchParams({ Bucket: bucket, Key: key, Range: `bytes=0-${bytes - 1}` });
  const response = await fetch(`api/s3/GetObject?${q}`, { credentials: 'same-origin' });
  if (!response.ok) await parse(response);
  return response.text();
}

export async function upload(bucket, key, file) {
  const q = new URLSearchParams({ Bucket: bucket, Key: key });
  const response = await fetch(`api/s3/PutObject?${q}`, {
    method: 'PUT', credentials: 'same-origin',
    headers: { 'x-sagestack-csrf': csrf || '', 'content-type': file.type || 'application/octet-stream' },
    body: file,
  });
  return parse(response);
}
