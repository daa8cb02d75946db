// CloudWatch Logs: groups, and search across a group's streams (FilterLogEvents).
import { call } from '../api.js';
import { h, pagedList, table, when } from '../ui.js';

export async function logs(view, args) {
  const groups = await call('logs', 'DescribeLogGroups', { limit: 50 });
  const group = h('select', { 'aria-label': 'Log group' }, (groups.logGroups || []).map((g) => h('option', { value: g.logGroupName }, g.logGroupName)));
  const pattern = h('input', { type: 'search', placeholder: 'Filter pattern, e.g. ERROR or "loss"', 'data-filter': 'pattern', 'aria-label': 'Filter pattern', size: 40 });
  const prefix = h('input', { type: 'search', placeholder: 'Stream name prefix', 'aria-label': 'Stream prefix' });
  const results = h('div');
  function search() {
    if (!group.value) { results.replaceChildren(h('p', { class: 'muted' }, 'No log groups yet.')); return; }
    results.replaceChildren(pagedList(async (token) => {
      const params = { logGroupName: group.value, limit: 200 };
      if (pattern.value) params.filterPattern = pattern.value;
      if (prefix.value) params.logStreamNamePrefix = prefix.value;
      if (token) params.nextToken = token;
      const out = await call('logs', 'FilterLogEvents', params);
      return { rows: out.events || [], next: out.nextToken };
    }, (rows) => table([['Time', (e) => when(e.timestamp)], ['Stream', (e) => e.logStreamName], ['Message', (e) => h('code', {}, e.message)]], rows, 'No matching events.')));
  }
  const go = h('button', { type: 'submit' }, 'Search');
  const form = h('form', { class: 'toolbar', onsubmit: (ev) => { ev.preventDefault(); search(); } }, group, prefix, pattern, go);
  view.append(h('h1', {}, 'Logs'), form, results);
  search();
}
