// The gate page's service worker: keeps the page's own files (/, /sw.js, /app/*) so a reload
// without a connection still opens the page with its queue of scans. Network first (a new build
// is picked up whenever the box answers within 3 s), the kept copy when it does not or answers
// with an error (the edge's 502 while the service is down). API answers are
// never kept: only GETs of the page's files on its own origin are handled here.

const VERSION = 'v2';
const CACHE = `tixgo-gate-${VERSION}`;
const START_FILES = [
  '/',
  '/sw.js',
  '/app/main.js',
  '/app/api.js',
  '/app/i18n.js',
  '/app/queue.js',
  '/app/scan.js',
  '/app/admin.js',
  '/app/stats.js',
  '/app/style.css',
  '/app/icon.svg',
];
const NETWORK_MS = 3000;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches.open(CACHE)
      .then((cache) => cache.addAll(START_FILES.map((f) => new Request(f, { cache: 'no-cache' }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('tixgo-gate-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

function isPageFile(url) {
  return url.origin === self.location.origin && (url.pathname === '/' || url.pathname === '/sw.js' || url.pathname.startsWith('/app/'));
}

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (!isPageFile(url)) return;
  event.respondWith(networkFirst(req, url));
});

async function networkFirst(req, url) {
  const cache = await caches.open(CACHE);
  // The page itself is kept under '/', whatever its query string.
  const key = url.pathname === '/' ? '/' : url.pathname;
  try {
    const res = await withTimeout(fetch(req), NETWORK_MS);
    if (res.ok && res.type === 'basic') {
      cache.put(key, res.clone());
      return res;
    }
    // A 304 is the browser's to handle; any other failure (the edge's 502 while the service is
    // down, a 503 while it stops) is no page: the kept copy is better.
    if (res.status === 304) return res;
    const kept = await cache.match(key);
    return kept || res;
  } catch (err) {
    const kept = await cache.match(key);
    if (kept) return kept;
    throw err;
  }
}

function withTimeout(promise, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), ms);
    promise.then((v) => { clearTimeout(timer); resolve(v); }, (e) => { clearTimeout(timer); reject(e); });
  });
}
