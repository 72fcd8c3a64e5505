// The gate page's wiring: language, log in and out, the chosen event, which screen shows, the
// live count, the camera button, and the service worker that keeps the page for offline reloads.

import { request, session, setSession, onSessionExpired, identityBase, seg, detailText } from './api.js';
import { t, say, apply, language, setLanguage, onLanguage, localDateTime, number } from './i18n.js';
import { initScan, scanFromCamera, flush, rerender as rerenderScan, clearAnswer, renderPending, renderSent } from './scan.js';
import { initAdmin, renderEvents, renderTools } from './admin.js';
import { initStats, refreshStats, renderStats } from './stats.js';

// Elements by id, found once (some are taken out of the page while hidden, see `place`).
const found = {};
const $ = (id) => (found[id] ??= document.getElementById(id));
const EVENT_KEY = 'tixgo.event';
const EVENTS_KEY = 'tixgo.events';
const COUNT_MS = 10000;
const OTHER = '__other__';

let screen = 'scan';
let events = readJson(EVENTS_KEY, []);
let countTimer = 0;
let lastStats = null;
let stopCamera = null;
let cameraStarting = false;

function readJson(key, fallback) {
  try { const v = JSON.parse(localStorage.getItem(key) || 'null'); return v ?? fallback; } catch { return fallback; }
}
function store(key, value) {
  try { localStorage.setItem(key, typeof value === 'string' ? value : JSON.stringify(value)); } catch { /* off */ }
}

// Two controls are labelled `Event ID` (the chooser's "Other event…" field and the New event
// form's): each is in the page only while it shows, so a label finds one control.
const slots = {};
function slot(id) {
  const el = $(id);
  const anchor = document.createComment(id);
  el.before(anchor);
  slots[id] = { el, anchor };
}
function place(id, on) {
  const { el, anchor } = slots[id];
  if (on && !el.isConnected) { apply(el); anchor.after(el); }
  else if (!on && el.isConnected) el.remove();
  el.hidden = !on;
}
function placeOther() {
  place('event-other-field', $('event-select').value === OTHER && screen !== 'events' && Boolean(session()));
}

// ---- the chosen event ----

function chosenEvent() {
  const sel = $('event-select');
  if (sel.value === OTHER) return $('event-other').value.trim();
  return sel.value;
}

function eventName(id) {
  const ev = events.find((e) => e.event_id === id);
  return ev ? ev.name : id;
}

/** Makes `id` the chosen event (a listed one in the select, any other as "Other event…"). */
function setEvent(id) {
  const sel = $('event-select');
  if (!id) sel.value = '';
  else if (events.some((e) => e.event_id === id)) sel.value = id;
  else { sel.value = OTHER; $('event-other').value = id; }
  eventChanged();
}

function eventChanged() {
  placeOther();
  const id = chosenEvent();
  store(EVENT_KEY, id);
  lastStats = null;
  renderCount();
  renderTools();
  if (id) refreshCount();
  if (screen === 'stats') refreshStats();
}

function fillSelect() {
  const sel = $('event-select');
  let keep = chosenEvent();
  try { keep = localStorage.getItem(EVENT_KEY) ?? keep; } catch { /* off */ }
  const options = [new Option(t('choose_option'), '')];
  for (const ev of events) {
    const label = ev.starts_at ? `${ev.name} · ${localDateTime(ev.starts_at)}` : ev.name;
    options.push(new Option(label, ev.event_id));
  }
  options.push(new Option(t('other_event'), OTHER));
  sel.replaceChildren(...options);
  if (!keep) sel.value = '';
  else if (events.some((e) => e.event_id === keep)) sel.value = keep;
  else { sel.value = OTHER; $('event-other').value = keep; }
  placeOther();
}

async function reloadEvents() {
  const res = await request('GET', '/events');
  if (res.status === 200 && Array.isArray(res.data?.events)) {
    events = res.data.events;
    store(EVENTS_KEY, events.map(({ event_id, name, starts_at, venue, ends_at, capacity, tickets, checked_in }) => ({ event_id, name, starts_at, venue, ends_at, capacity, tickets, checked_in })));
    fillSelect();
    renderEvents(events);
    renderTools();
    $('events-error').textContent = '';
  } else if (res.status === 403) {
    say($('events-error'), () => t('admin_required'));
  } else if (res.status !== 401 && screen === 'events') {
    say($('events-error'), () => (res.status === 0 ? t('no_connection') : (detailText(res.data) || t('service_error', { status: res.status }))));
  }
  return events;
}

// ---- the live count ----

async function refreshCount() {
  const id = chosenEvent();
  if (!id || !session()) return;
  const res = await request('GET', `/events/${seg(id)}/stats`);
  if (res.status === 200 && res.data && chosenEvent() === id) {
    lastStats = res.data;
    renderCount();
  }
}

function renderCount() {
  const el = $('count');
  const s = lastStats;
  if (!s || !chosenEvent()) { el.textContent = ''; return; }
  let text = t('n_checked_in', { n: number(s.checked_in) });
  if (s.capacity) text += t('of_capacity', { c: number(s.capacity) });
  else if (s.tickets > 0) text += t('of_tickets', { t: number(s.tickets) });
  el.textContent = text;
}

function startCountTimer() {
  clearInterval(countTimer);
  countTimer = setInterval(() => {
    if (document.hidden || !session()) return;
    if (screen === 'scan') refreshCount();
    else if (screen === 'stats') refreshStats();
  }, COUNT_MS);
}

// ---- screens ----

function showScreen(name) {
  const s = session();
  if (!s) name = 'login';
  else if (name !== 'scan' && s.role !== 'admin') name = 'scan';
  if (name !== 'login') screen = name;
  $('booting').hidden = true;
  for (const [id, key] of [['screen-login', 'login'], ['screen-scan', 'scan'], ['screen-events', 'events'], ['screen-stats', 'stats']]) {
    $(id).hidden = name !== key;
  }
  $('chooser').hidden = name === 'login' || name === 'events';
  place('ev-id-field', name === 'events');
  placeOther();
  $('nav').hidden = !s || s.role !== 'admin';
  $('logout').hidden = !s;
  $('whoami').hidden = !s;
  $('whoami').textContent = s ? s.username : '';
  for (const b of document.querySelectorAll('.nav-button')) {
    if (b.dataset.screen === name) b.setAttribute('aria-current', 'page');
    else b.removeAttribute('aria-current');
  }
  if (name !== 'scan' && stopCamera) toggleCamera();
  if (name === 'scan') { refreshCount(); $('ticket').focus(); }
  if (name === 'events') reloadEvents();
  if (name === 'stats') refreshStats();
  if (name === 'login') {
    const u = $('login-username');
    (u.value ? $('login-password') : u).focus();
  }
}

// ---- logging in and out ----

async function login(e) {
  e.preventDefault();
  const err = $('login-error');
  err.textContent = '';
  const username = $('login-username').value.trim();
  const password = $('login-password').value;
  const base = identityBase();
  $('login-submit').disabled = true;
  try {
    const res = await request('POST', '/auth/login', { body: { username, password }, base, auth: false });
    if (res.status !== 200 || !res.data?.access_token) {
      // Identity's own words stay as they are; the page's own follow the language switch.
      say(err, () => (res.status === 0 ? (res.timedOut ? t('timed_out') : t('no_connection'))
        : (detailText(res.data) || t('service_error', { status: res.status }))));
      return;
    }
    const token = res.data.access_token;
    const me = await request('GET', '/auth/me', { base, auth: false, headers: { Authorization: `Bearer ${token}` } });
    if (me.status !== 200 || !me.data?.username) {
      say(err, () => (me.status === 0 ? t('no_connection') : (detailText(me.data) || t('service_error', { status: me.status }))));
      return;
    }
    setSession({ token, username: me.data.username, role: me.data.role });
    $('login-password').value = '';
    $('login-note').hidden = true;
    loggedIn();
  } finally {
    $('login-submit').disabled = false;
  }
}

function loggedIn() {
  clearAnswer();
  fillSelect();
  rerenderScan();
  showScreen(screen);
  reloadEvents();
  startCountTimer();
  flush();
}

function logout() {
  if (stopCamera) toggleCamera();
  setSession(null);
  clearInterval(countTimer);
  clearAnswer();
  lastStats = null;
  $('login-note').hidden = true;
  $('login-password').value = '';
  showScreen('login');
}

function sessionExpired() {
  const s = session();
  if (!s) return;
  if (stopCamera) toggleCamera();
  setSession(null);
  clearInterval(countTimer);
  $('login-username').value = s.username;
  $('login-password').value = '';
  $('login-note').hidden = false;
  showScreen('login');
}

// ---- the camera ----

function cameraAvailability() {
  const note = $('camera-note');
  const button = $('camera');
  note.replaceChildren();
  if (!window.isSecureContext) {
    button.disabled = true;
    note.hidden = false;
    note.append(t('camera_insecure'));
    if (location.port === '18082') {
      const https = document.createElement('a');
      https.href = `https://${location.hostname}:18443/`;
      https.textContent = t('camera_https_link');
      const cert = document.createElement('a');
      cert.href = '/tixgo-ca.crt';
      cert.textContent = t('camera_cert_link');
      const [before, after] = t('camera_https_and').split('{cert}');
      note.append(' ', https, before, cert, after);
    }
    return false;
  }
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    button.disabled = true;
    note.hidden = false;
    note.textContent = t('camera_unsupported');
    return false;
  }
  note.hidden = true;
  return true;
}

async function toggleCamera() {
  const button = $('camera');
  if (stopCamera) {
    stopCamera();
    stopCamera = null;
    button.textContent = t('camera');
    button.setAttribute('aria-pressed', 'false');
    return;
  }
  if (cameraStarting || !cameraAvailability()) return;
  cameraStarting = true;
  try {
    const { start } = await import('./camera.js');
    const stop = await start($('video'), scanFromCamera, (err) => {
      stopCamera = null;
      button.textContent = t('camera');
      button.setAttribute('aria-pressed', 'false');
      cameraFailed(err);
    });
    // Logged out, or off the scan screen, while the camera was starting: stop it again.
    if (!session() || $('screen-scan').hidden) {
      stop();
      return;
    }
    stopCamera = stop;
    button.textContent = t('stop_camera');
    button.setAttribute('aria-pressed', 'true');
  } catch (err) {
    cameraFailed(err);
  } finally {
    cameraStarting = false;
  }
}

function cameraFailed(err) {
  const note = $('camera-note');
  note.hidden = false;
  const msg = err && err.message ? err.message : String(err);
  say(note, () => t('camera_failed', { msg }));
}

// ---- start ----

function languageChanged() {
  const other = language() === 'en' ? 'id' : 'en';
  const sw = $('lang-switch');
  sw.textContent = other === 'id' ? 'Bahasa Indonesia' : 'English';
  sw.lang = other;
  $('camera').textContent = t(stopCamera ? 'stop_camera' : 'camera');
  fillSelect();
  renderCount();
  renderEvents(events);
  renderTools();
  renderStats();
  rerenderScan();
  if (!window.isSecureContext || !(navigator.mediaDevices && navigator.mediaDevices.getUserMedia)) cameraAvailability();
}

function start() {
  slot('event-other-field');
  slot('ev-id-field');
  apply(document);
  onLanguage(languageChanged);
  onSessionExpired(sessionExpired);
  initScan({ getEvent: chosenEvent, onAnswered: refreshCount, focusTicket: () => $('ticket').focus() });
  initAdmin({ getEvent: chosenEvent, eventName, setEvent, reloadEvents });
  initStats({ getEvent: chosenEvent });

  $('lang-switch').addEventListener('click', () => setLanguage(language() === 'en' ? 'id' : 'en'));
  $('login-form').addEventListener('submit', login);
  $('logout').addEventListener('click', logout);
  for (const b of document.querySelectorAll('.nav-button')) b.addEventListener('click', () => showScreen(b.dataset.screen));
  $('event-select').addEventListener('change', () => {
    eventChanged();
    if ($('event-select').value === OTHER) $('event-other').focus();
  });
  $('event-other').addEventListener('change', eventChanged);
  $('camera').addEventListener('click', toggleCamera);
  document.addEventListener('visibilitychange', () => {
    // A phone put away stops its camera (the battery); back in hand, the count and queue catch up.
    if (document.hidden && stopCamera) toggleCamera();
    if (!document.hidden && session()) { refreshCount(); flush(); }
  });

  languageChanged();
  cameraAvailability();
  fillSelect();
  renderEvents(events);
  renderPending();
  renderSent();
  if (session()) {
    showScreen('scan');
    reloadEvents();
    startCountTimer();
    flush();
  } else {
    showScreen('login');
  }

  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/sw.js').catch(() => { /* the page works without it */ });
  }
}

start();
