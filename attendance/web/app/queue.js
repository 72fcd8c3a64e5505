// The offline queue: scans that got no answer from the service, kept in localStorage with their
// Idempotency-Key, event, ticket, gate, user and time, in the order they were made; and the list
// of queued scans that were sent later, with their answers.

const QUEUE_KEY = 'tixgo.queue';
const SENT_KEY = 'tixgo.sent';
const SENT_MAX = 30;

function read(key) {
  try {
    const v = JSON.parse(localStorage.getItem(key) || '[]');
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}

function write(key, list) {
  try { localStorage.setItem(key, JSON.stringify(list)); } catch { /* full or off */ }
}

/** Every queued scan, of every user. */
export function all() { return read(QUEUE_KEY); }

/** The queued scans of `user`, oldest first. */
export function forUser(user) { return read(QUEUE_KEY).filter((s) => s.user === user); }

/** Adds `scan` {key, event, ticket, gate, user, at} unless a scan with its key is queued. */
export function add(scan) {
  const list = read(QUEUE_KEY);
  if (!list.some((s) => s.key === scan.key)) list.push(scan);
  write(QUEUE_KEY, list);
}

/** Takes the scan with `key` out of the queue (read again first: another tab may have written). */
export function remove(key) {
  write(QUEUE_KEY, read(QUEUE_KEY).filter((s) => s.key !== key));
}

/** The answers of sent queued scans of `user`, newest first. */
export function sent(user) { return read(SENT_KEY).filter((s) => s.user === user); }

export function addSent(entry) {
  const list = read(SENT_KEY);
  list.unshift(entry);
  write(SENT_KEY, list.slice(0, SENT_MAX));
}
