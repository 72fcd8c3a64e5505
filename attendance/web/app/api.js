// Requests to the services: the token kept in localStorage, a timeout on every request, answers
// as {status, data} (status 0: no answer at all), and a 401 from anywhere ending the session.

const AUTH_KEY = 'tixgo.auth';
let auth = loadAuth();
let onExpired = () => {};

function loadAuth() {
  try {
    const a = JSON.parse(localStorage.getItem(AUTH_KEY) || 'null');
    return a && typeof a.token === 'string' && typeof a.username === 'string' ? a : null;
  } catch {
    return null;
  }
}

/** The logged-in user `{token, username, role}`, or null. */
export function session() { return auth; }

export function setSession(next) {
  auth = next;
  try {
    if (next) localStorage.setItem(AUTH_KEY, JSON.stringify(next));
    else localStorage.removeItem(AUTH_KEY);
  } catch { /* storage off: the session lasts as long as the page */ }
}

/** `fn(detail)` runs when any request with the token is answered 401. */
export function onSessionExpired(fn) { onExpired = fn; }

/** Identity's origin from `<meta name="tixgo-identity">`, or '' for the page's own origin. */
export function identityBase() {
  const meta = document.querySelector('meta[name="tixgo-identity"]');
  const url = meta ? meta.content.trim() : '';
  return url.replace(/\/+$/, '');
}

/** The path segment `s`, percent-encoded. */
export const seg = (s) => encodeURIComponent(s);

/**
 * One request. `opts`: body (an object, sent as JSON, or a Blob/string with `type`), headers,
 * timeout in ms (default 15 s), base (an origin), auth (default true), token (instead of the
 * session's), as: 'json' | 'text' | 'blob'.
 * Resolves to {status, data, headers, timedOut?, networkError?}; never rejects.
 */
export async function request(method, path, opts = {}) {
  const headers = { Accept: 'application/json', ...(opts.headers || {}) };
  const useAuth = opts.auth !== false;
  // The token this request goes with: a 401 ends the session only if it is still this one (an
  // answer that comes back after a new login says nothing about the new token).
  const token = useAuth ? (opts.token ?? auth?.token) : undefined;
  if (token) headers.Authorization = `Bearer ${token}`;
  let body;
  if (opts.body instanceof Blob || typeof opts.body === 'string') {
    body = opts.body;
    if (opts.type) headers['Content-Type'] = opts.type;
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['Content-Type'] = 'application/json';
  }
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; controller.abort(); }, opts.timeout ?? 15000);
  let res;
  try {
    res = await fetch((opts.base ?? '') + path, {
      method, headers, body, signal: controller.signal, cache: 'no-store', credentials: 'omit',
    });
  } catch (err) {
    clearTimeout(timer);
    return { status: 0, data: null, headers: new Headers(), timedOut, networkError: !timedOut };
  }
  let data = null;
  try {
    if (opts.as === 'blob' && res.ok) data = await res.blob();
    else if (opts.as === 'text' && res.ok) data = await res.text();
    else {
      const text = await res.text();
      data = text ? JSON.parse(text) : null;
    }
  } catch {
    if (timedOut) { clearTimeout(timer); return { status: 0, data: null, headers: res.headers, timedOut }; }
    data = null;
  }
  clearTimeout(timer);
  if (res.status === 401 && token && auth && auth.token === token) onExpired(detailText(data));
  return { status: res.status, data, headers: res.headers };
}

/** The human message of an error answer: its `detail`, or its validation problems joined. */
export function detailText(data) {
  if (!data) return '';
  const d = data.detail;
  if (typeof d === 'string') return d;
  if (Array.isArray(d)) {
    return d.map((p) => {
      const where = Array.isArray(p.loc) ? p.loc.filter((x) => x !== 'body').join('.') : '';
      return where ? `${where}: ${p.msg}` : String(p.msg);
    }).join('; ');
  }
  return '';
}

/** An RFC 4122 version 4 id: `crypto.randomUUID` exists on secure pages only. */
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
