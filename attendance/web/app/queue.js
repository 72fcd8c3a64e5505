// The offline queue: scans that got no answer from the service, kept in localStorage with their
// Idempotency-Key, event, ticket, gate, user and time, in the order they were made; and the list
// of queued scans that were sent later, with their answers.

const QUEUE_KEY = 'tixgo.queue';
const SENT_KEY = 'tixgo.sent';
const SENT_MAX = 30;

// The lists this page could not store (localStorage off or full), kept in memory instead and
// read from there, so a scan it could not store is still sent while the page stays open.
const unsaved = new Map();

function read(key) {
  if (unsaved.has(key)) return unsaved.get(key);
  try {
    const v = JSON.parse(localStorage.getItem(key) || '[]');
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}

/** Writes `list`; false when localStorage refused it (off, or full): then it lives in memory. */
function write(key, list) {
  try {
    localStorage.setItem(key, JSON.stringify(list));
    unsaved.delete(key);
    return true;
  } catch {
    unsaved.set(key, list);
    return false;
  }
}

/** Every queued scan, of every user. */
export function all() { return read(QUEUE_KEY); }

/** The queued scans of `user`, oldest first. */
export function forUser(user) { return read(QUEUE_KEY).filter((s) => s.user === user); }

/**
 * Adds `scan` {key, event, ticket, gate, user, at} unless a scan with its key is queued. False
 * when it is kept in this page's memory only (localStorage off or full): lost if the page closes.
 */
export function add(scan) {
  const list = read(QUEUE_KEY);
  if (!list.some((s) => s.key === scan.key)) list.push(scan);
  return write(QUEUE_KEY, list);
}

/** Whether the scan with `key` is still queued (another tab may have sent it). */
export function has(key) { return read(QUEUE_KEY).some((s) => s.key === key); }

/** Takes the scan with `key` out of the queue (read again first: another tab may have written). */
export function remove(key) {
  write(QUEUE_KEY, read(QUEUE_KEY).filter((s) => s.key !== key));
}

/** The answers of sent queued scans of `user`, newest first. */
export function sent(user) { return read(SENT_KEY).filter((s) => s.user === user); }

/** Records the answer of a sent queued scan, once per key. */
export function addSent(entry) {
  const list = read(SENT_KEY);
  if (list.some((s) => s.key === entry.key)) return;
  list.unshift(entry);
  write(SENT_KEY, list.slice(0, SENT_MAX));
}
