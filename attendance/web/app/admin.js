// The admin's Events screen: the event list with Edit, the New event / Edit event form, the
// ticket import from a CSV file, generated tickets, and the print view of their QR codes.

import { request, seg, detailText } from './api.js';
import { t, say, localDateTime } from './i18n.js';

// Elements by id, found once: the Event ID field is taken out of the page while another screen
// shows (only one control labelled `Event ID` is ever in the page).
const found = {};
const $ = (id) => found[id] || document.getElementById(id);
let hooks;
let editing = null; // the event being edited, as the form was filled
const FIELDS = [
  ['event_id', 'ev-id'], ['name', 'ev-name'], ['venue', 'ev-venue'],
  ['starts_at', 'ev-starts'], ['ends_at', 'ev-ends'], ['capacity', 'ev-capacity'],
];

/** `opts`: getEvent(), eventName(id), setEvent(id), reloadEvents() → Promise of the list. */
export function initAdmin(opts) {
  hooks = opts;
  for (const el of document.getElementById('screen-events').querySelectorAll('[id]')) found[el.id] = el;
  $('event-form').addEventListener('submit', (e) => { e.preventDefault(); submitEvent(); });
  $('ev-cancel').addEventListener('click', () => resetForm());
  $('import-form').addEventListener('submit', (e) => { e.preventDefault(); importTickets(); });
  $('generate-form').addEventListener('submit', (e) => { e.preventDefault(); generate(); });
  $('print').addEventListener('click', printCodes);
  $('print-again').addEventListener('click', () => window.print());
  $('print-close').addEventListener('click', closePrint);
}

/** Shows `events` (GET /events) as the list with an Edit button each. */
export function renderEvents(events) {
  const list = $('event-list');
  if (!events.length) {
    const li = document.createElement('li');
    li.className = 'muted';
    li.textContent = t('events_none');
    list.replaceChildren(li);
    return;
  }
  list.replaceChildren(...events.map((ev) => {
    const li = document.createElement('li');
    li.className = 'event-item';
    const name = document.createElement('p');
    name.className = 'event-name';
    name.textContent = ev.name;
    const id = document.createElement('p');
    id.className = 'mono small';
    id.textContent = ev.event_id;
    const when = document.createElement('p');
    when.className = 'small';
    when.textContent = ev.starts_at ? localDateTime(ev.starts_at) : t('ev_no_start');
    const counts = document.createElement('p');
    counts.className = 'small';
    counts.textContent = `${t('ev_tickets', { n: ev.tickets })} · ${t('ev_checked_in', { n: ev.checked_in })}`;
    const edit = document.createElement('button');
    edit.type = 'button';
    edit.className = 'secondary';
    edit.textContent = t('edit');
    edit.addEventListener('click', () => startEdit(ev));
    li.append(name, id, when, counts, edit);
    return li;
  }));
}

/** The tools' heading after the chosen event changed. */
export function renderTools() {
  const id = hooks.getEvent();
  $('tools-event').textContent = id ? t('tools_for', { name: hooks.eventName(id) }) : t('tools_none');
  for (const b of ['import-submit', 'gen-submit', 'print']) $(b).disabled = !id;
  const editingNow = Boolean(editing);
  $('event-form-title').textContent = t(editingNow ? 'edit_event' : 'new_event');
  $('ev-submit').textContent = t(editingNow ? 'save' : 'create_event');
}

// ---- the event form ----

/** `2026-12-20T18:00` in the device's time zone for an RFC 3339 time, '' for none. */
function toLocalInput(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** A `datetime-local` value as RFC 3339 with the device's offset at that moment. */
export function fromLocalInput(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(value);
  if (!m) return value;
  const d = new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const p = (n) => String(Math.floor(Math.abs(n))).padStart(2, '0');
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6] || '00'}${sign}${p(off / 60)}:${p(off % 60)}`;
}

function formValues() {
  return {
    event_id: $('ev-id').value.trim(),
    name: $('ev-name').value.trim(),
    venue: $('ev-venue').value.trim(),
    starts_at: $('ev-starts').value,
    ends_at: $('ev-ends').value,
    capacity: $('ev-capacity').value.trim(),
  };
}

function startEdit(ev) {
  resetForm();
  $('ev-id').value = ev.event_id;
  $('ev-id').readOnly = true;
  $('ev-name').value = ev.name ?? '';
  $('ev-venue').value = ev.venue ?? '';
  $('ev-starts').value = toLocalInput(ev.starts_at);
  $('ev-ends').value = toLocalInput(ev.ends_at);
  $('ev-capacity').value = ev.capacity ?? '';
  editing = formValues();
  $('ev-cancel').hidden = false;
  hooks.setEvent(ev.event_id);
  renderTools();
  $('ev-name').focus();
}

function resetForm() {
  editing = null;
  $('event-form').reset();
  $('ev-id').readOnly = false;
  $('ev-cancel').hidden = true;
  clearFieldErrors();
  $('event-form-error').textContent = '';
  renderTools();
}

function clearFieldErrors() {
  for (const [, id] of FIELDS) {
    $(`${id}-err`).textContent = '';
    $(id).removeAttribute('aria-invalid');
  }
}

async function submitEvent() {
  clearFieldErrors();
  $('event-form-error').textContent = '';
  $('event-form-done').textContent = '';
  const v = formValues();
  const value = (k) => {
    if (k === 'starts_at' || k === 'ends_at') return v[k] ? fromLocalInput(v[k]) : null;
    if (k === 'capacity') return v[k] === '' ? null : (Number.isFinite(Number(v[k])) ? Number(v[k]) : v[k]);
    if (k === 'venue') return v[k] === '' ? null : v[k];
    return v[k];
  };
  let res;
  const id = editing ? editing.event_id : v.event_id;
  if (editing) {
    const body = {};
    for (const [k] of FIELDS) {
      if (k !== 'event_id' && v[k] !== editing[k]) body[k] = value(k);
    }
    res = await request('PATCH', `/events/${seg(id)}`, { body });
  } else {
    const body = { event_id: v.event_id, name: v.name };
    for (const k of ['venue', 'starts_at', 'ends_at', 'capacity']) {
      if (v[k] !== '') body[k] = value(k);
    }
    res = await request('POST', '/events', { body });
  }
  if (res.status === 200 || res.status === 201) {
    const wasEditing = Boolean(editing);
    resetForm();
    say($('event-form-done'), () => t(wasEditing ? 'event_saved' : 'event_created', { id }));
    await hooks.reloadEvents();
    hooks.setEvent(id);
    renderTools();
    return;
  }
  if (res.status === 401) return;
  if (res.status === 422 && Array.isArray(res.data?.detail)) {
    const other = [];
    for (const p of res.data.detail) {
      const field = Array.isArray(p.loc) && p.loc[0] === 'body' ? p.loc[1] : null;
      const entry = FIELDS.find(([k]) => k === field);
      if (entry) {
        const err = $(`${entry[1]}-err`);
        err.textContent = err.textContent ? `${err.textContent} ${p.msg}` : p.msg;
        $(entry[1]).setAttribute('aria-invalid', 'true');
      } else {
        other.push(p.msg);
      }
    }
    $('event-form-error').textContent = other.join(' ');
    return;
  }
  say($('event-form-error'), () => errorText(res));
}

function errorText(res) {
  if (res.status === 0) return res.timedOut ? t('timed_out') : t('no_connection');
  return detailText(res.data) || t('service_error', { status: res.status });
}

// ---- import, generate ----

async function importTickets() {
  const event = hooks.getEvent();
  const result = $('import-result');
  const errors = $('import-errors');
  result.textContent = '';
  errors.replaceChildren();
  const file = $('csv-file').files[0];
  const fail = (text) => {
    const li = document.createElement('li');
    li.textContent = text;
    errors.append(li);
  };
  if (!event) return;
  if (!file) { fail(t('choose_file')); return; }
  $('import-submit').disabled = true;
  const res = await request('POST', `/events/${seg(event)}/tickets`, { body: file, type: 'text/csv', timeout: 120000 });
  $('import-submit').disabled = false;
  if (res.status === 200) {
    const d = res.data;
    say(result, () => `${t('import_done', d)}. ${t('import_total', { n: d.tickets })}`);
    hooks.reloadEvents();
    return;
  }
  if (res.status === 401) return;
  if (res.status === 422 && Array.isArray(res.data?.detail)) {
    for (const p of res.data.detail) {
      const loc = Array.isArray(p.loc) ? p.loc : [];
      if (loc.length >= 3 && loc[0] === 'body' && /^\d+$/.test(String(loc[1]))) {
        fail(t('row_error', { row: loc[1], field: loc[2], msg: p.msg }));
      } else {
        const where = loc.filter((x) => x !== 'body').join(', ');
        fail(where ? `${where}: ${p.msg}` : p.msg);
      }
    }
    return;
  }
  fail(errorText(res));
}

async function generate() {
  const event = hooks.getEvent();
  const err = $('generate-error');
  const out = $('generated');
  err.textContent = '';
  $('generate-result').textContent = '';
  out.replaceChildren();
  if (!event) return;
  const raw = $('gen-count').value.trim();
  const body = { count: raw === '' ? null : Number(raw) };
  const category = $('gen-category').value.trim();
  const prefix = $('gen-prefix').value.trim().toUpperCase();
  if (category) body.category = category;
  if (prefix) body.prefix = prefix;
  $('gen-submit').disabled = true;
  const res = await request('POST', `/events/${seg(event)}/tickets/generate`, { body, timeout: 60000 });
  $('gen-submit').disabled = false;
  if (res.status === 201) {
    const tickets = res.data.tickets || [];
    say($('generate-result'), () => t('generated_n', { n: tickets.length }));
    out.replaceChildren(...tickets.map((tk) => {
      const li = document.createElement('li');
      li.textContent = tk.ticket_id;
      return li;
    }));
    hooks.reloadEvents();
    return;
  }
  if (res.status === 401) return;
  say(err, () => errorText(res));
}

// ---- the print view ----

const PRINT_LIMIT = 1000;
const SVG_NS = 'http://www.w3.org/2000/svg';
const KEEP = {
  figure: ['class'], figcaption: ['class'], div: ['class'],
  svg: ['xmlns', 'version', 'width', 'height', 'viewBox', 'shape-rendering'],
  rect: ['width', 'height', 'fill', 'x', 'y'], path: ['fill', 'd'],
};

/** A copy of `node` made of the print page's own element kinds and attributes only. */
function clean(node) {
  if (node.nodeType === Node.TEXT_NODE) return document.createTextNode(node.data);
  if (node.nodeType !== Node.ELEMENT_NODE) return null;
  const tag = node.localName;
  const attrs = KEEP[tag];
  if (!attrs) return null;
  const el = node.namespaceURI === SVG_NS ? document.createElementNS(SVG_NS, tag) : document.createElement(tag);
  for (const a of attrs) {
    const v = node.getAttribute(a);
    if (v !== null && a !== 'xmlns') el.setAttribute(a, v);
  }
  for (const child of node.childNodes) {
    const c = clean(child);
    if (c) el.append(c);
  }
  return el;
}

async function printCodes() {
  const event = hooks.getEvent();
  const err = $('print-error');
  err.textContent = '';
  if (!event) return;
  $('print').disabled = true;
  const res = await request('GET', `/events/${seg(event)}/print?limit=${PRINT_LIMIT}`, {
    as: 'text', headers: { Accept: 'text/html' }, timeout: 60000,
  });
  $('print').disabled = false;
  if (res.status !== 200) {
    if (res.status !== 401) say(err, () => errorText(res));
    return;
  }
  // The print page's own <style> is not wanted (our print CSS styles the codes) and the page's
  // CSP would refuse it with a console error, so it is cut out before parsing.
  const html = res.data.replace(/<style[\s\S]*?<\/style>/gi, '');
  const doc = new DOMParser().parseFromString(html, 'text/html');
  const figures = [...doc.querySelectorAll('main.grid > figure')].map(clean).filter(Boolean);
  if (!figures.length) { say(err, () => t('print_empty')); return; }
  for (const f of figures) {
    const svg = f.querySelector('svg');
    if (svg) { svg.removeAttribute('width'); svg.removeAttribute('height'); svg.setAttribute('aria-hidden', 'true'); }
  }
  $('print-title').textContent = t('print_title', { name: hooks.eventName(event) });
  const grid = $('print-grid');
  grid.replaceChildren(...figures);
  if (figures.length >= PRINT_LIMIT) {
    const more = document.createElement('p');
    more.className = 'no-print note';
    more.textContent = t('print_more', { n: PRINT_LIMIT });
    grid.before(more);
  }
  document.body.classList.add('printing');
  $('print-view').hidden = false;
  $('print-again').focus();
  // Let the view lay out before the dialog opens.
  setTimeout(() => window.print(), 50);
}

function closePrint() {
  $('print-view').hidden = true;
  document.body.classList.remove('printing');
  $('print-grid').replaceChildren();
  for (const p of $('print-view').querySelectorAll('p.note')) p.remove();
  $('print').focus();
}
