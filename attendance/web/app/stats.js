// The Statistics screen: the chosen event's counts, refusals, gates, staff, first and last
// check-in, the SVG bar chart of arrivals per 15 minutes, and the attendance CSV download.

import { request, seg, detailText } from './api.js';
import { t, say, localTime, localDateTime, number } from './i18n.js';

const $ = (id) => document.getElementById(id);
const SVG_NS = 'http://www.w3.org/2000/svg';
let hooks;
let last = null; // the last statistics shown, to draw again in another language

/** `opts`: getEvent(). */
export function initStats(opts) {
  hooks = opts;
  $('download-csv').addEventListener('click', downloadCsv);
}

export async function refreshStats() {
  const event = hooks.getEvent();
  const err = $('stats-error');
  $('download-csv').disabled = !event;
  if (!event) { say(err, () => t('choose_event_first')); last = null; $('stats-body').replaceChildren(); return; }
  const res = await request('GET', `/events/${seg(event)}/stats`);
  if (hooks.getEvent() !== event) return; // another event was chosen meanwhile: its answer is due
  if (res.status === 200 && res.data) {
    err.textContent = '';
    last = res.data;
    renderStats();
  } else if (res.status !== 401) {
    say(err, () => (res.status === 0 ? t('no_connection') : (detailText(res.data) || t('service_error', { status: res.status }))));
  }
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** A `<dl>` of [term, value] pairs. */
function pairs(rows, cls) {
  const dl = el('dl', cls);
  for (const [k, v] of rows) {
    const div = el('div', 'pair');
    div.append(el('dt', '', k), el('dd', '', v));
    dl.append(div);
  }
  return dl;
}

export function renderStats() {
  const body = $('stats-body');
  if (!last) { body.replaceChildren(); return; }
  const s = last;
  const none = t('st_none');
  const nodes = [];
  nodes.push(pairs([
    [t('st_tickets'), number(s.tickets)],
    [t('st_checked_in'), number(s.checked_in)],
    [t('st_remaining'), s.remaining === null || s.remaining === undefined ? none : number(s.remaining)],
    [t('st_capacity'), s.capacity === null || s.capacity === undefined ? none : number(s.capacity)],
  ], 'big-pairs'));

  nodes.push(el('h3', '', t('st_refused')));
  const r = s.refused || {};
  nodes.push(pairs(['unknown_ticket', 'voided', 'already_checked_in', 'capacity_reached']
    .map((k) => [t(`refused_${k}`), number(r[k] ?? 0)])));

  nodes.push(el('h3', '', t('st_by_gate')));
  const gates = Object.entries(s.by_gate || {});
  nodes.push(gates.length ? pairs(gates.map(([g, n]) => [g === '' ? t('st_no_gate') : g, number(n)])) : el('p', 'muted', none));

  nodes.push(el('h3', '', t('st_by_staff')));
  const staff = Object.entries(s.by_staff || {});
  nodes.push(staff.length ? pairs(staff.map(([u, n]) => [u, number(n)])) : el('p', 'muted', none));

  nodes.push(pairs([
    [t('st_first'), s.first_checkin_at ? localDateTime(s.first_checkin_at) : none],
    [t('st_last'), s.last_checkin_at ? localDateTime(s.last_checkin_at) : none],
  ]));

  nodes.push(el('h3', '', t('st_arrivals')));
  nodes.push(chart(s.by_interval || []));
  body.replaceChildren(...nodes);
}

/** Bars of check-ins per 15 minutes, with the same numbers in words as its label. */
function chart(intervals) {
  if (!intervals.length) return el('p', 'muted', t('st_chart_empty'));
  const W = 320;
  const H = 160;
  const top = 14;
  const bottom = 22;
  const max = Math.max(1, ...intervals.map((i) => i.checked_in));
  const slot = W / intervals.length;
  const bar = Math.max(1, slot * 0.8);
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('class', 'chart');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', t('st_chart_label', {
    list: intervals.map((i) => `${localTime(i.start)} ${i.checked_in}`).join(', '),
  }));
  const base = document.createElementNS(SVG_NS, 'line');
  for (const [k, v] of [['x1', 0], ['x2', W], ['y1', H - bottom], ['y2', H - bottom], ['class', 'axis']]) base.setAttribute(k, v);
  svg.append(base);
  const labelEvery = Math.max(1, Math.ceil(intervals.length / 6));
  intervals.forEach((iv, i) => {
    const h = ((H - top - bottom) * iv.checked_in) / max;
    const x = i * slot + (slot - bar) / 2;
    const rect = document.createElementNS(SVG_NS, 'rect');
    for (const [k, v] of [['x', x], ['y', H - bottom - h], ['width', bar], ['height', h], ['class', 'bar']]) rect.setAttribute(k, v);
    svg.append(rect);
    if (iv.checked_in > 0 && intervals.length <= 24) {
      const n = document.createElementNS(SVG_NS, 'text');
      for (const [k, v] of [['x', x + bar / 2], ['y', H - bottom - h - 3], ['class', 'bar-value']]) n.setAttribute(k, v);
      n.textContent = String(iv.checked_in);
      svg.append(n);
    }
    if (i % labelEvery === 0) {
      const label = document.createElementNS(SVG_NS, 'text');
      for (const [k, v] of [['x', x + bar / 2], ['y', H - 6], ['class', 'tick']]) label.setAttribute(k, v);
      label.textContent = localTime(iv.start);
      svg.append(label);
    }
  });
  return svg;
}

async function downloadCsv() {
  const event = hooks.getEvent();
  const err = $('stats-error');
  if (!event) return;
  const res = await request('GET', `/attendance/${seg(event)}?format=csv`, {
    as: 'blob', headers: { Accept: 'text/csv' }, timeout: 120000,
  });
  if (res.status !== 200) {
    if (res.status !== 401) say(err, () => (res.status === 0 ? t('no_connection') : (detailText(res.data) || t('service_error', { status: res.status }))));
    return;
  }
  const file = `${event}-attendance.csv`;
  const url = URL.createObjectURL(res.data);
  const a = document.createElement('a');
  a.href = url;
  a.download = file;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
