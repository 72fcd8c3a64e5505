// The scan screen's work: one check-in per scan (typed, scanner or camera), the answer in the
// status element and the full-screen panel, tone and vibration, Undo, and sending the queue.

import { request, session, seg, newKey, detailText } from './api.js';
import * as queue from './queue.js';
import { t, say, localTime } from './i18n.js';

const CHECKIN_TIMEOUT = 5000;
const PANEL_MS = 3000;
const CAMERA_REPEAT_MS = 3000;
const RETRY_MS = 5000;

const $ = (id) => document.getElementById(id);
let els;
let hooks;
let current = null; // the answer on screen: {kind, ticket, event, record, detail, status}
let panelTimer = 0;
let flushing = false;
let lastSeen = new Map(); // camera: code -> when it was last in view
let scanSeq = 0; // the number of the newest scan, so a slow answer never covers a newer one
let audio = null;

/** `opts`: getEvent() → the chosen event id or '', onAnswered(), focusTicket(). */
export function initScan(opts) {
  hooks = opts;
  els = {
    form: $('scan-form'), ticket: $('ticket'), gate: $('gate'), error: $('scan-error'),
    box: $('answer-box'), answer: $('answer'), undo: $('undo'),
    pending: $('pending'), sentBox: $('sent-box'), sentList: $('sent-list'),
  };
  try { els.gate.value = localStorage.getItem('tixgo.gate') || ''; } catch { /* off */ }
  els.gate.addEventListener('input', () => {
    try { localStorage.setItem('tixgo.gate', els.gate.value); } catch { /* off */ }
  });
  els.form.addEventListener('submit', (e) => {
    e.preventDefault();
    const id = els.ticket.value.trim();
    els.ticket.value = '';
    scan(id, 'typed');
  });
  // A tap on the panel shrinks it; the Ticket field keeps the focus (a scanner keeps typing).
  for (const type of ['pointerdown', 'mousedown']) {
    els.box.addEventListener(type, (e) => { if (e.target !== els.undo) e.preventDefault(); });
  }
  els.box.addEventListener('click', (e) => {
    if (e.target !== els.undo) collapse();
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && els.box.classList.contains('full')) collapse();
  });
  els.undo.addEventListener('click', undo);
  window.addEventListener('online', () => flush());
  // Another tab queued or sent a scan: show the queue as it is now.
  window.addEventListener('storage', (e) => {
    if (e.key === null || e.key === 'tixgo.queue' || e.key === 'tixgo.sent') { renderPending(); renderSent(); }
  });
  setInterval(() => { if (navigator.onLine !== false) flush(); }, RETRY_MS);
}

/** Checks `ticket` in to the chosen event; `source` is 'typed' or 'camera'. */
export async function scan(ticket, source) {
  els.error.textContent = '';
  const event = hooks.getEvent();
  if (!event) { say(els.error, () => t('choose_event_first')); hooks.focusTicket(); return; }
  if (!ticket) { say(els.error, () => t('enter_ticket')); hooks.focusTicket(); return; }
  const s = session();
  if (!s) return;
  unlockAudio();
  const gate = els.gate.value.trim();
  const item = { key: newKey(), event, ticket, gate, user: s.username, at: new Date().toISOString() };
  const seq = ++scanSeq;
  const res = await post(item, s.token);
  const answer = classify(res, item);
  let shown = answer;
  if (answer.kind === 'retry') {
    // Kept in memory only when localStorage refuses it: sent while the page stays open, and the
    // gate is told not to close it.
    shown = { kind: queue.add(item) ? 'queued' : 'queued_unsaved', ticket, event };
    renderPending();
  }
  if (seq === scanSeq) {
    show(shown, source);
  } else if (answer.kind !== 'retry') {
    // A newer scan is on screen (the person at the gate now): this slower answer goes to the list.
    queue.addSent({ ...answer, user: item.user, key: item.key, sentAt: new Date().toISOString() });
    renderSent();
  }
  hooks.onAnswered();
  // A scan that reached the service is a good moment to send what waits.
  if (answer.kind !== 'retry' && queue.forUser(s.username).length) flush();
}

/** A code the camera read: checked in at once, the same code not again within 3 s of its last sighting. */
export function scanFromCamera(code) {
  const now = Date.now();
  // Held in view, a code is seen every frame: it is sent again only after 3 s out of view, also
  // when other codes were seen in between.
  const seen = lastSeen.get(code);
  lastSeen.set(code, now);
  for (const [other, at] of lastSeen) if (now - at >= CAMERA_REPEAT_MS) lastSeen.delete(other);
  if (seen !== undefined && now - seen < CAMERA_REPEAT_MS) return;
  scan(code.trim(), 'camera');
}

/** The check-in of `item`, with `token` (the user's who scanned it). */
function post(item, token) {
  const body = { event_id: item.event, ticket_id: item.ticket };
  if (item.gate) body.gate = item.gate;
  return request('POST', '/checkins', {
    body, headers: { 'Idempotency-Key': item.key }, timeout: CHECKIN_TIMEOUT, token,
  });
}

/** What an answer means for the gate; 'retry' for those after which the scan is sent again. */
function classify(res, item) {
  const base = { ticket: item.ticket, event: item.event, status: res.status };
  const d = res.data || {};
  // Only the service's own answer (JSON with a `record` or a `detail`) settles a scan: a captive
  // portal's page, a proxy's error or a redirect says nothing about whether it was written.
  const fromService = typeof res.data === 'object' && res.data !== null && ('record' in d || 'detail' in d);
  if (!fromService || res.status === 401 || res.status === 429
      || res.status === 502 || res.status === 503 || res.status === 504) {
    return { ...base, kind: 'retry' };
  }
  if (res.status === 201) return { ...base, kind: 'ok', record: d.record || {} };
  if (res.status === 409 && d.reason === 'already_checked_in') return { ...base, kind: 'already', record: d.record || {} };
  if (res.status === 404 && d.reason === 'unknown_ticket') return { ...base, kind: 'unknown' };
  if (res.status === 409 && d.reason === 'voided') return { ...base, kind: 'voided' };
  if (res.status === 409 && d.reason === 'capacity_reached') return { ...base, kind: 'full' };
  return { ...base, kind: 'other', detail: detailText(d) };
}

/** The colour, title and further lines of an answer, in the current language. */
function describe(a) {
  const rec = a.record || {};
  switch (a.kind) {
    case 'ok':
      return { colour: 'green', title: t('ans_checked_in'), lines: [rec.holder, rec.category].filter(Boolean) };
    case 'already':
      return {
        colour: 'yellow', title: t('ans_already'),
        lines: [t('ans_by_at', { by: rec.checked_in_by ?? '?', at: rec.checked_in_at ? localTime(rec.checked_in_at) : '?' }), rec.holder].filter(Boolean),
      };
    case 'unknown': return { colour: 'red', title: t('ans_unknown'), lines: [a.ticket] };
    case 'voided': return { colour: 'red', title: t('ans_voided'), lines: [a.ticket] };
    case 'full': return { colour: 'red', title: t('ans_full'), lines: [] };
    case 'queued': return { colour: 'grey', title: t('ans_queued'), lines: [a.ticket] };
    case 'queued_unsaved': return { colour: 'red', title: t('ans_queued_unsaved'), lines: [a.ticket] };
    case 'undone': return { colour: 'grey', title: t('ans_undone'), lines: [a.ticket] };
    default:
      return { colour: 'red', title: a.detail || t('service_error', { status: a.status }), lines: [a.ticket] };
  }
}

function show(answer, source) {
  current = answer;
  render();
  els.box.classList.add('full');
  clearTimeout(panelTimer);
  panelTimer = setTimeout(collapse, PANEL_MS);
  feedback(describe(answer).colour);
  if (source !== 'camera') hooks.focusTicket();
}

function render() {
  const { answer, box, undo } = els;
  box.classList.remove('green', 'yellow', 'red', 'grey');
  if (!current) { answer.replaceChildren(); undo.hidden = true; return; }
  const d = describe(current);
  box.classList.add(d.colour);
  const title = document.createElement('p');
  title.className = 'answer-title';
  title.textContent = d.title;
  const nodes = [title];
  for (const line of d.lines) {
    const p = document.createElement('p');
    p.className = 'answer-line';
    p.textContent = line;
    nodes.push(p);
  }
  answer.replaceChildren(...nodes);
  const s = session();
  undo.hidden = !(s && s.role === 'admin' && (current.kind === 'ok' || current.kind === 'already'));
}

function collapse() {
  clearTimeout(panelTimer);
  els.box.classList.remove('full');
}

async function undo() {
  if (!current || !(current.kind === 'ok' || current.kind === 'already')) return;
  const { event, ticket } = current;
  els.undo.disabled = true;
  const res = await request('DELETE', `/checkins/${seg(event)}/${seg(ticket)}`);
  els.undo.disabled = false;
  if (res.status === 200) show({ kind: 'undone', ticket, event }, 'typed');
  else if (res.status !== 401) show({ kind: 'other', ticket, event, status: res.status, detail: detailText(res.data) || (res.status === 0 ? t('no_connection') : '') }, 'typed');
  hooks.onAnswered();
}

/**
 * Sends the queued scans of the user logged in, in order, each with its own key and that user's
 * token; stops when the session changes. One tab at a time sends (a Web Lock, where the browser
 * has it: on https and localhost), and a scan another tab has sent meanwhile is skipped.
 */
export async function flush() {
  const s = session();
  if (!s || flushing) return;
  flushing = true;
  try {
    if (navigator.locks) {
      await navigator.locks.request('tixgo-queue', { ifAvailable: true }, (lock) => (lock ? send(s) : null));
    } else {
      await send(s);
    }
  } finally {
    flushing = false;
    renderPending();
  }
}

async function send(s) {
  let sent = 0;
  for (const item of queue.forUser(s.username)) {
    if (session()?.token !== s.token) break;
    if (!queue.has(item.key)) continue;
    const res = await post(item, s.token);
    const answer = classify(res, item);
    if (answer.kind === 'retry') break;
    queue.remove(item.key);
    queue.addSent({ ...answer, user: item.user, key: item.key, sentAt: new Date().toISOString() });
    renderPending();
    renderSent();
    sent += 1;
  }
  if (sent) hooks.onAnswered();
}

function pendingCount() {
  const s = session();
  return s ? queue.forUser(s.username).length : 0;
}

export function renderPending() {
  const n = pendingCount();
  els.pending.hidden = n === 0;
  els.pending.textContent = n ? t('n_pending', { n }) : '';
}

export function renderSent() {
  const s = session();
  const list = s ? queue.sent(s.username) : [];
  els.sentBox.hidden = list.length === 0;
  els.sentList.replaceChildren(...list.map((a) => {
    const d = describe(a);
    const li = document.createElement('li');
    li.className = `sent-${d.colour}`;
    const id = document.createElement('span');
    id.className = 'mono';
    id.textContent = a.ticket;
    const what = document.createElement('span');
    what.textContent = ` ${d.title}${d.lines.length && a.kind !== 'unknown' && a.kind !== 'voided' ? ` (${d.lines.join(', ')})` : ''}`;
    li.append(id, what);
    return li;
  }));
}

/** Everything this module shows, again (the language changed, or the user). */
export function rerender() {
  render();
  renderPending();
  renderSent();
}

export function clearAnswer() {
  current = null;
  collapse();
  render();
  els.error.textContent = '';
}

function unlockAudio() {
  try {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    audio ??= new Ctx();
    if (audio.state === 'suspended') audio.resume();
  } catch { audio = null; }
}

function tone(freq, start, length) {
  const osc = audio.createOscillator();
  const gain = audio.createGain();
  osc.frequency.value = freq;
  osc.type = 'square';
  gain.gain.setValueAtTime(0.15, audio.currentTime + start);
  gain.gain.setValueAtTime(0, audio.currentTime + start + length);
  osc.connect(gain).connect(audio.destination);
  osc.start(audio.currentTime + start);
  osc.stop(audio.currentTime + start + length + 0.02);
}

/** High tone and a short buzz for green; two low tones and a long buzz for red and yellow. */
function feedback(colour) {
  try {
    if (audio && audio.state === 'running') {
      if (colour === 'green') tone(1320, 0, 0.12);
      else if (colour === 'red' || colour === 'yellow') { tone(260, 0, 0.15); tone(260, 0.22, 0.15); }
    }
  } catch { /* no sound */ }
  try {
    if (navigator.vibrate && colour !== 'grey') navigator.vibrate(colour === 'green' ? 80 : 400);
  } catch { /* no vibration */ }
}
