// Small DOM helpers shared by the pages.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export const enc = encodeURIComponent;

export function status(value) {
  return h('span', { class: `status s-${String(value || '').replace(/[^A-Za-z]/g, '')}`, 'data-status': value }, value || '—');
}

export function when(value) {
  if (!value) return '—';
  const d = new Date(value);
  return isNaN(d) ? String(value) : d.toLocaleString();
}

export function duration(start, end) {
  if (!start) return '—';
  const ms = (end ? new Date(end) : new Date()) - new Date(start);
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${(s / 3600).toFixed(1)}h`;
}

export function kv(pairs) {
  const dl = h('dl', { class: 'kv' });
  for (const [k, v] of pairs) {
    if (v === undefined) continue;
    dl.append(h('dt', {}, k), h('dd', {}, v === null || v === '' ? '—' : v));
  }
  return dl;
}

export function table(columns, rows, empty = 'Nothing here yet.') {
  if (!rows.length) return h('p', { class: 'muted' }, empty);
  return h('table', { class: 'data' },
    h('thead', {}, h('tr', {}, columns.map(([label]) => h('th', { scope: 'col' }, label)))),
    h('tbody', {}, rows.map((row) => h('tr', {}, columns.map(([, cell]) => h('td', {}, cell(row)))))));
}

export function error(err) {
  return h('p', { class: 'error', role: 'alert' }, `${err.code || 'Error'}: ${err.message}`);
}

export function s3Link(uri) {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri || '');
  if (!m) return uri || '—';
  return h('a', { href: `#/s3/${enc(m[1])}/${enc(m[2])}` }, uri);
}

export function section(title, ...children) {
  return h('section', { class: 'card' }, h('h2', {}, title), ...children);
}

// A list that pages through an operation with NextToken: only one page is ever in the DOM.
// fetchPage(token) → {rows, next}; render(rows) → Node.
export function pagedList(fetchPage, render) {
  const box = h('div', { class: 'paged' });
  const body = h('div');
  const info = h('span', { class: 'muted' });
  const prev = h('button', { type: 'button', class: 'secondary', 'data-page': 'prev' }, '← Previous');
  const next = h('button', { type: 'button', class: 'secondary', 'data-page': 'next' }, 'Next →');
  const tokens = [null];
  let page = 0; let nextToken = null;
  async function load() {
    prev.disabled = next.disabled = true;
    try {
      const { rows, next: token } = await fetchPage(tokens[page]);
      nextToken = token || null;
      body.replaceChildren(render(rows));
      info.textContent = `Page ${page + 1} · ${rows.length} shown`;
    } catch (err) { body.replaceChildren(error(err)); }
    prev.disabled = page === 0; next.disabled = !nextToken;
  }
  prev.addEventListener('click', () => { if (page > 0) { page -= 1; load(); } });
  next.addEventListener('click', () => { if (nextToken) { tokens[page + 1] = nextToken; page += 1; load(); } });
  box.append(body, h('div', { class: 'pager' }, prev, next, info));
  box.reload = () => { tokens.length = 1; page = 0; return load(); };
  box.ready = box.reload();
  return box;
}

// Filter inputs that re-run `apply` (debounced).
export function debounce(fn, ms = 250) {
  let t = null;
  return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
}
