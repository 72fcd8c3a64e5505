// Token expiry mid-queue. Two scans wait while the attendance service is down (stopped, as in
// offline.test.mjs: Chromium's offline emulation once let a queued request through, which made
// "nothing was sent" an unfair thing to ask of the page); the stored token is then replaced by an
// expired one, well signed with the stack's JWT_SECRET and with identity's claims (sub, role,
// iat, exp: docs/API.md "Tokens"), as a phone reopened after its token ran out has it; the page
// is reloaded (the service worker serves it over the edge's 502) and the service comes back. The
// page asks for the password again (`Your session expired: log in again`), the queue survives,
// and after the login it is sent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startGate, stopGate, newPhone, makeEvent, openGate, scan, waitStatus, login, makeToken,
  checkinsOf, api,
} from './harness.mjs';

let stack, browser, admin;

before(async () => {
  ({ stack, browser, admin } = await startGate());
  await makeEvent(stack, admin, 'expiry', { tickets: [{ ticket_id: 'EXP-1' }, { ticket_id: 'EXP-2' }] });
});

after(async () => {
  await stopGate(stack, browser);
});

test('an expired token mid-queue: log in again, the queue is kept and sent', async () => {
  const context = await newPhone(browser);
  const page = await context.newPage();
  await openGate(page, stack.pageUrl, 'panitia1', 'expiry');
  await page.waitForFunction(async () => Boolean(await navigator.serviceWorker?.ready), null, { timeout: 10000 });

  await stack.stopAttendance();
  for (const id of ['EXP-1', 'EXP-2']) {
    await scan(page, id);
    await waitStatus(page, /Saved, will be sent/, 8000);
  }
  await page.getByText('2 pending', { exact: true }).first().waitFor();

  // Replace the stored token (wherever the page keeps it) by an expired one.
  const now = Math.floor(Date.now() / 1000);
  const expired = makeToken(stack.secret, { sub: 'panitia1', role: 'committee', iat: now - 7200, exp: now - 3600 });
  const check = await api(stack, 'GET', '/auth/me', { service: 'identity', token: expired });
  assert.equal(check.status, 401);
  assert.equal(check.json.detail, 'Token expired', 'the made token is well signed, only expired');
  const replaced = await page.evaluate((expiredToken) => {
    let n = 0;
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i);
      const value = localStorage.getItem(key);
      const jwt = /eyJ[\w-]+\.[\w-]+\.[\w-]+/g;
      if (jwt.test(value)) {
        localStorage.setItem(key, value.replace(jwt, expiredToken));
        n++;
      }
    }
    return n;
  }, expired);
  assert.ok(replaced >= 1, 'the page keeps its token in localStorage');
  await page.reload();
  await page.getByText('2 pending', { exact: true }).first().waitFor({ timeout: 8000 });

  await stack.startAttendance();
  await page.getByText('Your session expired: log in again').waitFor({ timeout: 15000 });
  await page.getByLabel('Password', { exact: true }).waitFor();
  assert.equal((await checkinsOf(stack, admin, 'expiry')).length, 0, 'nothing sent with the expired token');

  await login(page, 'panitia1');
  // The queue is sent (within the 5 s retry at most): both check-ins reach the service.
  await page.getByLabel('Ticket', { exact: true }).waitFor({ timeout: 8000 });
  for (let i = 0; i < 150 && (await checkinsOf(stack, admin, 'expiry')).length < 2; i++) await page.waitForTimeout(100);
  await page.waitForFunction(() => !/\d+ pending/.test(document.body.innerText), null, { timeout: 5000 });
  const records = await checkinsOf(stack, admin, 'expiry');
  assert.deepEqual(records.map((r) => r.ticket_id).sort(), ['EXP-1', 'EXP-2']);
  assert.ok(records.every((r) => r.checked_in_by === 'panitia1'));
  await context.close();
});
