// A holder name with markup stays text; the CSP header has no unsafe-inline; every request the
// page makes goes to the box; the first load is at most 200 KB over the wire; the certificate
// chain Chromium was told to trust verifies against the box's CA.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  startGate, stopGate, newPhone, makeEvent, openGate, scan, waitStatus,
} from './harness.mjs';

const XSS = '<img src=x onerror=window.__xss=1>';
let stack, browser, admin;

before(async () => {
  ({ stack, browser, admin } = await startGate());
  await makeEvent(stack, admin, 'aman', { tickets: [{ ticket_id: 'XSS-1', holder: XSS, category: '<b>VIP</b>' }] });
});

after(async () => {
  await stopGate(stack, browser);
});

test('the server certificate verifies against the box\'s CA (openssl verify -CAfile)', () => {
  const out = execFileSync('openssl', ['verify', '-CAfile', stack.caFile, stack.serverCertFile], { encoding: 'utf8' });
  assert.match(out, /: OK/);
});

test('a holder named <img src=x onerror=...> shows as text', async () => {
  const context = await newPhone(browser);
  const page = await context.newPage();
  await openGate(page, stack.pageUrl, 'panitia1', 'aman');
  await scan(page, 'XSS-1');
  const text = await waitStatus(page, /Checked in/);
  assert.ok(text.includes(XSS), `the status text has the name literally: ${text}`);
  assert.ok(text.includes('<b>VIP</b>'));
  await page.waitForTimeout(300);
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  assert.equal(await page.evaluate(() => document.querySelectorAll('img[src="x"], [role="status"] img, [role="status"] b').length), 0);
  await context.close();
});

test('CSP without unsafe-inline, only requests to the box, first load <= 200 KB over the wire', async () => {
  const context = await newPhone(browser); // cold: no cache, no service worker yet
  const page = await context.newPage();
  const urls = [];
  const finished = [];
  context.on('request', (r) => urls.push(r.url()));
  context.on('requestfinished', (r) => finished.push(r));
  const res = await page.goto(stack.pageUrl, { waitUntil: 'networkidle' });
  const csp = res.headers()['content-security-policy'];
  assert.ok(csp, 'Content-Security-Policy header on /');
  assert.doesNotMatch(csp, /unsafe-inline/);
  assert.doesNotMatch(csp, /unsafe-eval/);
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'/);
  await page.getByLabel('Username', { exact: true }).waitFor();
  await page.waitForTimeout(1000); // the service worker's install fetches count too
  let bytes = 0;
  for (const r of finished) {
    const sizes = await r.sizes();
    bytes += sizes.responseHeadersSize + sizes.responseBodySize;
  }
  assert.ok(finished.length >= 3, `the page's files were counted (${finished.length})`);
  assert.ok(bytes <= 200 * 1024, `first load ${bytes} bytes over the wire`);

  // Then a whole session: login, scan; still nothing but the box.
  const { login, chooseEvent } = await import('./harness.mjs');
  await login(page, 'panitia1');
  await chooseEvent(page, 'aman');
  await scan(page, 'XSS-1');
  await waitStatus(page, /Already checked in/);
  const foreign = urls.filter((u) => !u.startsWith(stack.origin + '/') && !u.startsWith('data:') && !u.startsWith('blob:'));
  assert.deepEqual(foreign, []);
  assert.ok(urls.length >= 5);
  await context.close();
});
