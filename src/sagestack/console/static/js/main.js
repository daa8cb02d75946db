// The console shell: sign-in, the hash router, live refresh, keyboard navigation.
import { currentSession, signIn, signOut } from './api.js';
import { error, h } from './ui.js';
import * as jobs from './pages/jobs.js';
import * as s3 from './pages/s3.js';
import * as pipes from './pages/pipelines.js';
import * as models from './pages/models.js';
import * as exps from './pages/experiments.js';
import * as images from './pages/images.js';
import { logs } from './pages/logs.js';

// [pattern, page]: a page is async (view, args, live) => void
const ROUTES = [
  [/^\/?$/, jobs.overview],
  [/^\/s3\/?$/, s3.buckets],
  [/^\/s3\/([^/]+)\/(.*)$/, s3.prefix],
  [/^\/training\/?$/, jobs.jobList('training')],
  [/^\/training\/(.+)$/, jobs.trainingJob],
  [/^\/processing\/?$/, jobs.jobList('processing')],
  [/^\/processing\/(.+)$/, jobs.processingJob],
  [/^\/transform\/?$/, jobs.jobList('transform')],
  [/^\/transform\/(.+)$/, jobs.transformJob],
  [/^\/tuning\/?$/, jobs.jobList('tuning')],
  [/^\/tuning\/(.+)$/, jobs.tuningJob],
  [/^\/pipelines\/?$/, pipes.pipelines],
  [/^\/pipelines\/(.+)$/, pipes.pipeline],
  [/^\/executions\/(.+)$/, pipes.execution],
  [/^\/experiments\/?$/, exps.experiments],
  [/^\/experiments\/(.+)$/, exps.experiment],
  [/^\/registry\/?$/, models.registry],
  [/^\/registry\/([^/]+)\/(\d+)$/, models.version],
  [/^\/registry\/(.+)$/, models.group],
  [/^\/endpoints\/?$/, models.endpoints],
  [/^\/endpoints\/(.+)$/, models.endpoint],
  [/^\/monitoring\/?$/, models.schedules],
  [/^\/monitoring\/(.+)$/, models.schedule],
  [/^\/images\/?$/, images.repositories],
  [/^\/images\/(.+)$/, images.repository],
  [/^\/logs\/?$/, logs],
];

const view = document.getElementById('view');
let generation = 0;
let timers = [];

function stopLive() { for (const t of timers) clearInterval(t); timers = []; }

async function render() {
  stopLive();
  const mine = ++generation;
  const path = decodeURI(location.hash.replace(/^#/, '') || '/');
  const raw = location.hash.replace(/^#/, '') || '/';
  view.replaceChildren();
  view.removeAttribute('data-ready');
  for (const a of document.querySelectorAll('#nav a')) {
    const target = a.getAttribute('href').slice(1);
    a.classList.toggle('active', target === '/' ? path === '/' : path.startsWith(target));
  }
  const route = ROUTES.find(([re]) => re.test(raw));
  if (!route) { view.append(h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/' }, 'Overview'))); return; }
  const args = raw.match(route[0]).slice(1).map((a) => decodeURIComponent(a || ''));
  const live = {
    every(ms, fn) {
      const t = setInterval(async () => {
        if (mine !== generation || document.hidden) return;
        try { await fn(); } catch (err) { console.warn('refresh failed', err.code || '', err.message); }
      }, ms);
      timers.push(t);
    },
    rerender() { if (mine === generation) render(); },
  };
  try {
    await route[1](view, args, live);
    await Promise.all([...view.querySelectorAll('.paged')].map((list) => list.ready));
  } catch (err) {
    if (err.status === 401) { showSignIn(); return; }
    if (mine === generation) view.append(error(err));
  }
  if (mine === generation) {
    view.setAttribute('data-ready', '1');
    document.title = `${view.querySelector('h1')?.textContent || 'console'} · sagestack`;
  }
}

function showSignIn() {
  stopLive();
  document.getElementById('signin').hidden = false;
  document.getElementById('nav').hidden = true;
  document.getElementById('signout').hidden = true;
  document.getElementById('who').textContent = '';
  view.replaceChildren();
  document.querySelector('#signin input').focus();
}

function signedIn(who) {
  document.getElementById('signin').hidden = true;
  document.getElementById('nav').hidden = false;
  document.getElementById('signout').hidden = false;
  document.getElementById('who').textContent = `${who.principalArn} · ${who.region}`;
  render();
}

document.getElementById('signin').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const data = Object.fromEntries(new FormData(ev.target).entries());
  const out = document.getElementById('signin-error');
  out.textContent = '';
  try { const who = await signIn(data); ev.target.reset(); signedIn(who); } catch (err) { out.textContent = err.message; }
});
document.getElementById('signout').addEventListener('click', async () => { await signOut(); showSignIn(); });
window.addEventListener('hashchange', async () => {
  if (document.getElementById('nav').hidden) return;
  await render();
  document.getElementById('main').focus({ preventScroll: true }); // keyboard and screen readers start at the page
});

// j / k: the next / previous row of the page's table (its first link), Enter opens it.
function moveRow(step) {
  const links = [...view.querySelectorAll('table.data tbody tr td:first-child a')];
  if (!links.length) return;
  const at = links.indexOf(document.activeElement);
  const next = links[Math.min(links.length - 1, Math.max(0, at === -1 ? 0 : at + step))];
  next.focus();
  next.scrollIntoView({ block: 'nearest' });
}

// Keyboard: "g" then a section's letter; "/" focuses the page's first filter; "?" lists the keys.
let pendingG = false;
document.addEventListener('keydown', (ev) => {
  const t = ev.target;
  if (ev.ctrlKey || ev.metaKey || ev.altKey || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName)) return;
  if (pendingG) {
    pendingG = false;
    const link = document.querySelector(`#nav a[data-key="${ev.key}"]`);
    if (link) { location.hash = link.getAttribute('href'); ev.preventDefault(); }
    return;
  }
  if (ev.key === 'g') { pendingG = true; setTimeout(() => { pendingG = false; }, 1500); }
  else if (ev.key === 'j' || ev.key === 'k') moveRow(ev.key === 'j' ? 1 : -1);
  else if (ev.key === '/') { const f = view.querySelector('input, select'); if (f) { ev.preventDefault(); f.focus(); } }
  else if (ev.key === '?') {
    const old = document.getElementById('help');
    if (old) { old.remove(); return; }
    document.body.append(h('div', { id: 'help', role: 'dialog', 'aria-label': 'Keys' }, h('strong', {}, 'Keys'),
      h('ul', {}, [...document.querySelectorAll('#nav a')].map((a) => h('li', {}, h('kbd', {}, `g ${a.dataset.key}`), ` ${a.textContent}`)),
        h('li', {}, h('kbd', {}, '/'), ' focus a filter'), h('li', {}, h('kbd', {}, 'j k'), ' next / previous row, Enter opens it'), h('li', {}, h('kbd', {}, 'Tab'), ' move between links and buttons'))));
  }
});

currentSession().then((who) => (who ? signedIn(who) : showSignIn())).catch(() => showSignIn());
